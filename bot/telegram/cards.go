package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"html"
	"strconv"
	"strings"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"orderbot/bot"
	"orderbot/dialog"
)

// putCard shows an order's card, edited in place as the order changes
// (see bot.PutCard). Its reference is "chat:message".
func (b *Bot) putCard(ctx context.Context, chat int64, r dialog.Reply, p retryPolicy) error {
	txt := clean(r.Text)
	if utf16Len(txt) > maxText {
		txt = splitText(txt, maxText-1)[0] + "…"
	}
	kb := b.keyboard(r.Buttons)
	return bot.PutCard(ctx, b.cfg.Cards, Channel, r.Card, bot.CardMessage{
		Sum: cardSum(txt, kb),
		Edit: func(ctx context.Context, at string) (bool, error) {
			refChat, id, ok := parseCardRef(at)
			if !ok || refChat != chat {
				return true, errors.New("card reference of another chat")
			}
			edit := tgbotapi.EditMessageTextConfig{
				BaseEdit:              tgbotapi.BaseEdit{ChatID: chat, MessageID: id, ReplyMarkup: kb},
				Text:                  html.EscapeString(txt),
				ParseMode:             tgbotapi.ModeHTML,
				DisableWebPagePreview: true,
			}
			_, err := b.requestRetry(ctx, "editMessageText", edit, p)
			ae := asAPIError(err)
			switch {
			case err == nil, ae.notModified():
				return false, nil
			case ae.transient(), ae.unreachable(), ctx.Err() != nil:
				return false, err
			}
			return true, err
		},
		Post: func(ctx context.Context) (string, error) {
			msg := tgbotapi.MessageConfig{
				BaseChat:              tgbotapi.BaseChat{ChatID: chat, ReplyMarkup: kb},
				Text:                  html.EscapeString(txt),
				ParseMode:             tgbotapi.ModeHTML,
				DisableWebPagePreview: true,
			}
			if kb == nil {
				msg.ReplyMarkup = nil
			}
			result, err := b.requestRetry(ctx, "sendMessage", msg, p)
			if err != nil {
				return "", err
			}
			var sent tgbotapi.Message
			if json.Unmarshal(result, &sent) != nil || sent.MessageID == 0 {
				return "", nil // shown, but cannot be edited later
			}
			return fmt.Sprintf("%d:%d", chat, sent.MessageID), nil
		},
	}, b.log)
}

// cardSum identifies what a card shows.
func cardSum(text string, kb *tgbotapi.InlineKeyboardMarkup) string {
	h := fnv.New64a()
	h.Write([]byte(text))
	if kb != nil {
		markup, _ := json.Marshal(kb)
		h.Write(markup)
	}
	return strconv.FormatUint(h.Sum64(), 36)
}

// parseCardRef reads "chat:message".
func parseCardRef(ref string) (chat int64, message int, ok bool) {
	c, m, found := strings.Cut(ref, ":")
	chat, err1 := strconv.ParseInt(c, 10, 64)
	message, err2 := strconv.Atoi(m)
	return chat, message, found && err1 == nil && err2 == nil && message > 0
}

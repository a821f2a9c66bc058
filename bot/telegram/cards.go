package telegram

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"html"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"orderbot/bot"
	"orderbot/dialog"
)

// putCard shows an order's card: by editing the message that shows it
// already, or, the first time or when that message can no longer be
// edited (deleted, too old), by sending a new one and remembering it. A
// card already showing this text is left alone without a call (cards show
// the order as it is now, so a burst of changes renders the same card
// several times), and a retried notification changes nothing.
func (b *Bot) putCard(ctx context.Context, chat int64, r dialog.Reply, p retryPolicy) error {
	txt := clean(r.Text)
	if utf16Len(txt) > maxText {
		txt = splitText(txt, maxText-1)[0] + "…"
	}
	kb := b.keyboard(r.Buttons)
	sum := cardSum(txt, kb)
	ref, found, err := b.cfg.Cards.CardRef(ctx, Channel, r.Card)
	if err != nil {
		// Sending a new card could leave two: the notification is retried.
		return err
	}
	if refChat, id, shown, ok := parseCardRef(ref); found && ok && refChat == chat {
		if shown == sum {
			return nil
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
			b.saveCard(ctx, r.Card, chat, id, sum)
			return nil
		case ae.transient(), ae.unreachable(), ctx.Err() != nil:
			return err
		}
		b.log.Debug("order card cannot be edited; sending a new one", "order", r.Card, "method", "editMessageText", "err", err)
	}
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
		return err
	}
	var sent tgbotapi.Message
	if json.Unmarshal(result, &sent) != nil || sent.MessageID == 0 {
		return nil // shown, but cannot be edited later: the next change sends a new card
	}
	b.saveCard(ctx, r.Card, chat, sent.MessageID, sum)
	return nil
}

// saveCard remembers the message showing an order's card, and what it
// shows, trying a few times: a card not remembered is sent again next time.
func (b *Bot) saveCard(ctx context.Context, order string, chat int64, message int, sum string) {
	ref := fmt.Sprintf("%d:%d:%s", chat, message, sum)
	var err error
	for attempt := range 3 {
		if err = b.cfg.Cards.SaveCardRef(ctx, Channel, order, ref); err == nil {
			return
		}
		if bot.Sleep(ctx, bot.Backoff(attempt, 100*time.Millisecond, time.Second)) != nil {
			break
		}
	}
	b.log.Warn("order card not remembered; the next change sends a new one", "order", order, "err", err)
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

// parseCardRef reads "chat:message:sum" (sum may be empty).
func parseCardRef(ref string) (chat int64, message int, sum string, ok bool) {
	parts := strings.SplitN(ref, ":", 3)
	if len(parts) < 2 {
		return 0, 0, "", false
	}
	chat, err1 := strconv.ParseInt(parts[0], 10, 64)
	message, err2 := strconv.Atoi(parts[1])
	if len(parts) == 3 {
		sum = parts[2]
	}
	return chat, message, sum, err1 == nil && err2 == nil && message > 0
}

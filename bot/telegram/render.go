package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"orderbot/dialog"
)

// Telegram's limits, counted in UTF-16 units of the text after entity
// parsing, and in bytes of callback data.
const (
	maxText     = 4096
	maxCaption  = 1024
	maxCallback = 64
)

// How calls that answer a user are retried: briefly, since the user waits
// and the hub's delivery deadline bounds them anyway.
var replyRetry = retryPolicy{attempts: 3, min: 250 * time.Millisecond, max: 2 * time.Second}

// out is one message to send.
type out struct {
	text    string // plain text, escaped when sent; a photo's caption
	photo   string // an image URL or file path, or ""
	inline  *tgbotapi.InlineKeyboardMarkup
	replyKB *tgbotapi.ReplyKeyboardMarkup
	remove  bool // remove the reply keyboard the chat shows
	replyTo int
	invoice *dialog.Invoice // send this invoice instead of a message
}

// deliverTo returns the hub's delivery callback for one update. It runs on
// the hub's worker, in the conversation's order, within its deadline.
func (b *Bot) deliverTo(inc incoming) func(ctx context.Context, in dialog.Inbound, replies []dialog.Reply, err error) {
	return func(ctx context.Context, _ dialog.Inbound, replies []dialog.Reply, err error) {
		log := b.log.With("conv", inc.in.Key.String())
		if inc.callbackID != "" {
			notice := ""
			if err != nil {
				notice = text(inc.locale, "error_short")
			}
			if !inc.hook.offer(notice) {
				b.answerCallback(ctx, inc.callbackID, notice)
			}
		}
		if len(replies) == 0 {
			if err == nil {
				return
			}
			// The handler failed without words (a panic): apologise.
			replies = []dialog.Reply{{Text: dialog.T(dialog.NormalizeLang(inc.locale), "error")}}
		}
		if err := b.reply(ctx, inc, replies); err != nil {
			log.Warn("reply not delivered", "err", err)
		}
	}
}

// reply renders the replies to one update: in place of the message whose
// button was pressed when it can, as new messages otherwise.
func (b *Bot) reply(ctx context.Context, inc incoming, replies []dialog.Reply) error {
	// Invoices after the step are sent after it, whether the step was
	// edited in place or sent anew.
	var invoices []out
	for len(replies) > 0 {
		last := replies[len(replies)-1]
		if last.Invoice == nil || strings.TrimSpace(last.Text) != "" || len(last.Buttons) > 0 || last.Image != "" || last.Request != dialog.RequestNone {
			break
		}
		invoices = append([]out{{invoice: last.Invoice}}, invoices...)
		replies = replies[:len(replies)-1]
	}
	if err := b.replySteps(ctx, inc, replies); err != nil {
		return err
	}
	for _, m := range invoices {
		if err := b.post(ctx, inc.chat, m, replyRetry); err != nil {
			return err
		}
	}
	return nil
}

// replySteps renders the replies to one update but their invoices.
func (b *Bot) replySteps(ctx context.Context, inc incoming, replies []dialog.Reply) error {
	if len(replies) == 0 {
		return nil
	}
	request := false
	for _, r := range replies {
		request = request || r.Request == dialog.RequestContact || r.Request == dialog.RequestLocation
	}
	// A reply keyboard from an earlier step goes away with the next message;
	// an edit cannot carry that, so then new messages are sent.
	remove := !request && b.keyboards.has(inc.chat)
	if inc.editable && !remove && b.editInPlace(ctx, inc, replies) {
		return nil
	}
	msgs := b.compose(replies, inc.locale, remove)
	for _, m := range msgs {
		if err := b.post(ctx, inc.chat, m, replyRetry); err != nil {
			return err
		}
	}
	b.noteKeyboard(inc.chat, request, remove)
	return nil
}

// noteKeyboard remembers whether the chat now shows a reply keyboard.
func (b *Bot) noteKeyboard(chat int64, shown, removed bool) {
	switch {
	case shown:
		b.keyboards.set(chat)
	case removed:
		b.keyboards.del(chat)
	}
}

// editInPlace shows the new step in the message whose button was pressed,
// with the notices before it merged above its text. It reports whether it
// did; on false the caller sends new messages.
func (b *Bot) editInPlace(ctx context.Context, inc incoming, replies []dialog.Reply) bool {
	step := replies[len(replies)-1]
	if step.Image != "" {
		return false // a text message cannot become a photo
	}
	var parts []string
	for _, r := range replies[:len(replies)-1] {
		if len(r.Buttons) > 0 || r.Image != "" || r.Request != dialog.RequestNone {
			return false // a reply of its own, not a notice
		}
		if t := strings.TrimSpace(r.Text); t != "" {
			parts = append(parts, t)
		}
	}
	if t := strings.TrimSpace(step.Text); t != "" {
		parts = append(parts, t)
	}
	merged := clean(strings.Join(parts, "\n\n"))
	if merged == "" || utf16Len(merged) > maxText {
		return false
	}
	edit := tgbotapi.EditMessageTextConfig{
		BaseEdit:              tgbotapi.BaseEdit{ChatID: inc.chat, MessageID: inc.messageID, ReplyMarkup: b.keyboard(step.Buttons)},
		Text:                  html.EscapeString(merged),
		ParseMode:             tgbotapi.ModeHTML,
		DisableWebPagePreview: true,
	}
	if _, err := b.requestRetry(ctx, "editMessageText", edit, replyRetry); err != nil {
		if !asAPIError(err).notModified() {
			// Too old, deleted, or not a text message: a new message
			// carries the step instead.
			b.log.Debug("edit in place failed; sending a new message", "method", "editMessageText", "err", err)
			return false
		}
		// The message already shows exactly this step: a new one would
		// only repeat it.
	}
	if step.Request == dialog.RequestContact || step.Request == dialog.RequestLocation {
		hint := requestHint(step, inc.locale)
		if err := b.post(ctx, inc.chat, hint, replyRetry); err != nil {
			b.log.Warn("reply not delivered", "conv", inc.in.Key.String(), "method", "sendMessage", "err", err)
		} else {
			b.keyboards.set(inc.chat)
		}
	}
	return true
}

// compose turns replies into messages: long texts split, photos with their
// caption when it fits, inline keyboards on the last piece, a reply keyboard
// for contact and location requests, and the removal of an old reply
// keyboard on the first message that can carry it.
func (b *Bot) compose(replies []dialog.Reply, locale string, remove bool) []out {
	var msgs []out
	for _, r := range replies {
		txt := clean(r.Text)
		if r.Notification && txt != "" {
			txt = notificationMark + " " + txt
		}
		kb := b.keyboard(r.Buttons)
		switch {
		case r.Image != "" && utf16Len(txt) <= maxCaption:
			msgs = append(msgs, out{photo: r.Image, text: txt, inline: kb})
		default:
			if r.Image != "" {
				msgs = append(msgs, out{photo: r.Image}) // the text follows: too long for a caption
			}
			pieces := splitText(txt, maxText)
			if len(pieces) == 0 && kb != nil {
				pieces = []string{"…"} // Telegram sends no empty text, and the buttons matter
			}
			for i, p := range pieces {
				m := out{text: p}
				if i == len(pieces)-1 {
					m.inline = kb
				}
				msgs = append(msgs, m)
			}
		}
		if r.Request == dialog.RequestContact || r.Request == dialog.RequestLocation {
			msgs = append(msgs, requestHint(r, locale))
		}
		if r.Invoice != nil {
			msgs = append(msgs, out{invoice: r.Invoice})
		}
	}
	if remove && len(msgs) > 0 {
		at := 0
		for i, m := range msgs {
			if m.inline == nil && m.replyKB == nil && m.invoice == nil {
				at = i
				break
			}
		}
		msgs[at].remove = true
	}
	return msgs
}

// requestHint is the message that offers Telegram's share button for a
// contact or location request, in the language of the step it belongs to.
func requestHint(r dialog.Reply, locale string) out {
	lang := langOf(r.Text, locale)
	hint, button := "location_hint", "location_button"
	kb := tgbotapi.KeyboardButton{RequestLocation: true}
	if r.Request == dialog.RequestContact {
		hint, button = "contact_hint", "contact_button"
		kb = tgbotapi.KeyboardButton{RequestContact: true}
	}
	kb.Text = text(lang, button)
	return out{text: text(lang, hint), replyKB: &tgbotapi.ReplyKeyboardMarkup{
		Keyboard:        [][]tgbotapi.KeyboardButton{{kb}},
		ResizeKeyboard:  true,
		OneTimeKeyboard: true,
	}}
}

// keyboard builds an inline keyboard; a button whose action does not fit
// Telegram's 64 bytes is dropped (the dialog keeps actions short, so this
// is a bug to log, not a reason to lose the message).
func (b *Bot) keyboard(rows [][]dialog.Button) *tgbotapi.InlineKeyboardMarkup {
	var kb [][]tgbotapi.InlineKeyboardButton
	for _, row := range rows {
		var r []tgbotapi.InlineKeyboardButton
		for _, btn := range row {
			if btn.Action == "" || len(btn.Action) > maxCallback || !utf8.ValidString(btn.Action) {
				b.log.Error("button dropped: action empty or over Telegram's 64 bytes", "bytes", len(btn.Action))
				continue
			}
			label := clean(btn.Label)
			if label == "" {
				label = "·"
			}
			data := btn.Action
			r = append(r, tgbotapi.InlineKeyboardButton{Text: label, CallbackData: &data})
		}
		if len(r) > 0 {
			kb = append(kb, r)
		}
	}
	if len(kb) == 0 {
		return nil
	}
	return &tgbotapi.InlineKeyboardMarkup{InlineKeyboard: kb}
}

// post sends one message. A photo the server refuses is sent as text, so
// the words and buttons are never lost.
func (b *Bot) post(ctx context.Context, chat int64, m out, p retryPolicy) error {
	var markup any
	switch {
	case m.replyKB != nil:
		markup = m.replyKB
	case m.remove:
		markup = tgbotapi.ReplyKeyboardRemove{RemoveKeyboard: true}
	case m.inline != nil:
		markup = m.inline
	}
	if m.invoice != nil {
		return b.postInvoice(ctx, chat, m.invoice, p)
	}
	base := tgbotapi.BaseChat{ChatID: chat, ReplyMarkup: markup, ReplyToMessageID: m.replyTo, AllowSendingWithoutReply: m.replyTo != 0}
	var (
		result json.RawMessage
		err    error
	)
	if m.photo != "" {
		var file tgbotapi.RequestFileData
		if file, err = b.photoFile(m.photo); err == nil {
			photo := tgbotapi.PhotoConfig{BaseFile: tgbotapi.BaseFile{BaseChat: base, File: file}, Caption: html.EscapeString(m.text), ParseMode: tgbotapi.ModeHTML}
			result, err = b.requestRetry(ctx, "sendPhoto", photo, p)
		}
		if err != nil {
			if ctx.Err() != nil || asAPIError(err).unreachable() {
				return err
			}
			b.log.Warn("photo refused; sending text instead", "method", "sendPhoto", "err", err)
			if m.text == "" {
				return nil // the text follows in its own message
			}
			m.photo = ""
			return b.post(ctx, chat, m, p)
		}
		b.rememberPhoto(m.photo, result)
	} else {
		msg := tgbotapi.MessageConfig{BaseChat: base, Text: html.EscapeString(m.text), ParseMode: tgbotapi.ModeHTML, DisableWebPagePreview: true}
		if result, err = b.requestRetry(ctx, "sendMessage", msg, p); err != nil {
			return err
		}
	}
	if m.remove && m.inline != nil {
		// A message carries one markup: it removed the reply keyboard, so
		// its inline keyboard is added by an edit.
		var sent tgbotapi.Message
		json.Unmarshal(result, &sent)
		edit := tgbotapi.EditMessageReplyMarkupConfig{BaseEdit: tgbotapi.BaseEdit{ChatID: chat, MessageID: sent.MessageID, ReplyMarkup: m.inline}}
		if _, err := b.requestRetry(ctx, "editMessageReplyMarkup", edit, p); err != nil {
			b.log.Warn("could not add the buttons; sending them again", "method", "editMessageReplyMarkup", "err", err)
			m.remove, m.photo, m.text = false, "", strings.TrimSpace(m.text)
			if m.text == "" {
				m.text = "…"
			}
			return b.post(ctx, chat, m, p)
		}
	}
	return nil
}

// postInvoice sends an invoice. One the server refuses (a provider token
// it does not accept) becomes a short text, so the customer is not left
// waiting for a payment form; the order keeps its "Pay now" button.
func (b *Bot) postInvoice(ctx context.Context, chat int64, inv *dialog.Invoice, p retryPolicy) error {
	err := b.sendInvoice(ctx, chat, inv, p)
	if err == nil || ctx.Err() != nil || asAPIError(err).unreachable() {
		return err
	}
	b.log.Error("invoice refused; telling the customer", "method", "sendInvoice", "err", err)
	return b.post(ctx, chat, out{text: text(langOf(inv.Title, ""), "invoice_failed")}, p)
}

// maxPhotoBytes is Telegram's limit for an uploaded photo.
const maxPhotoBytes = 10 << 20

// photoFile is the file to send for an image: Telegram's file_id when it
// was sent before, else the URL for Telegram to fetch, else a file under
// ImageDir to upload (read whole, so that a retry can send it again).
func (b *Bot) photoFile(image string) (tgbotapi.RequestFileData, error) {
	if id, ok := b.photos.get(image); ok {
		return tgbotapi.FileID(id), nil
	}
	if u, err := url.Parse(image); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		return tgbotapi.FileURL(image), nil
	}
	if !filepath.IsLocal(image) {
		return nil, errors.New("image path leaves the image directory")
	}
	// OpenInRoot also refuses symbolic links that lead out of the directory.
	f, err := os.OpenInRoot(b.cfg.ImageDir, image)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPhotoBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxPhotoBytes {
		return nil, errors.New("image over Telegram's 10 MB")
	}
	return tgbotapi.FileBytes{Name: filepath.Base(image), Bytes: data}, nil
}

// rememberPhoto keeps the file_id Telegram gave a sent image.
func (b *Bot) rememberPhoto(image string, result json.RawMessage) {
	var sent tgbotapi.Message
	if json.Unmarshal(result, &sent) != nil || len(sent.Photo) == 0 {
		return
	}
	if id := sent.Photo[len(sent.Photo)-1].FileID; id != "" {
		b.photos.put(image, id)
	}
}

// answerCallback stops the button's spinner, with a short notice or none.
func (b *Bot) answerCallback(ctx context.Context, id, notice string) {
	answer := tgbotapi.CallbackConfig{CallbackQueryID: id, Text: notice}
	if _, err := b.requestRetry(ctx, "answerCallbackQuery", answer, replyRetry); err != nil {
		// Mostly "query is too old": the user waited over Telegram's limit.
		b.log.Debug("callback query not answered", "method", "answerCallbackQuery", "err", err)
	}
}

// clean makes text safe to send: valid UTF-8, no surrounding blanks.
func clean(s string) string {
	return strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))
}

// utf16Len counts what Telegram counts: UTF-16 code units.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += runeUnits(r)
	}
	return n
}

func runeUnits(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}

// splitText cuts s into pieces of at most limit UTF-16 units, at the last
// line break that fits, else the last space, else anywhere between two
// characters. Blank pieces are dropped; the separators at the cuts are the
// only characters not kept.
func splitText(s string, limit int) []string {
	var pieces []string
	for {
		s = strings.TrimSpace(s)
		if s == "" {
			return pieces
		}
		if utf16Len(s) <= limit {
			return append(pieces, s)
		}
		end, units := 0, 0 // end: bytes of the longest prefix within limit
		for i, r := range s {
			if units+runeUnits(r) > limit {
				break
			}
			units += runeUnits(r)
			end = i + utf8.RuneLen(r)
			if r == utf8.RuneError {
				end = i + 1
			}
		}
		if end == 0 { // cannot happen with Telegram's limits; never loop forever
			_, end = utf8.DecodeRuneInString(s)
		}
		cut, next := end, end
		if i := strings.LastIndexByte(s[:end], '\n'); i > 0 {
			cut, next = i, i+1
		} else if i := strings.LastIndexFunc(s[:end], unicode.IsSpace); i > 0 {
			_, size := utf8.DecodeRuneInString(s[i:])
			cut, next = i, i+size
		}
		pieces = append(pieces, strings.TrimSpace(s[:cut]))
		s = s[next:]
	}
}

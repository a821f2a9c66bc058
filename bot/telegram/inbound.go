package telegram

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"orderbot/dialog"
	"orderbot/orders"
)

// kind says what the adapter does with an update.
type kind int

const (
	ignore      kind = iota // nothing: not for us, or nothing to say
	submit                  // hand the message to the hub
	groupHint               // a group addressed the bot: point to the private chat
	unsupported             // a private message the bot cannot read: say what it reads
	answerOnly              // a callback query with nothing to handle: just answer it
	preCheckout             // a pre-checkout query: checked and answered at once
)

// reasonPayment explains an ignored successful payment.
const reasonPayment = "successful payment without an order number, charge id or amount"

// notificationMark starts every notification, so a button pressed on one
// (View order) opens a new message instead of overwriting the notification;
// order cards (dialog.CardMark) are kept the same way.
const notificationMark = "🔔"

// incoming is an update as the adapter understands it: the channel-neutral
// message plus what is needed to answer on Telegram.
type incoming struct {
	kind    kind
	in      dialog.Inbound
	chat    int64
	locale  string // the user's Telegram language_code
	reason  string // why an update is ignored, for debug logs
	replyTo int    // the group message a hint replies to
	payload string // a /start payload carried over to the private chat

	callbackID string      // the callback query to answer
	hook       *hookAnswer // the webhook request that may carry that answer; nil when polling
	messageID  int         // the message the pressed button is on
	editable   bool        // that message may be edited in place
	queryID    string      // the pre-checkout query to answer
	order      string      // the order a pre-checkout query is about
	amount     orders.Money
}

// parseUpdate converts an update. It is pure and never panics on any
// update JSON can describe (see FuzzParseUpdate).
func parseUpdate(u tgbotapi.Update, me tgbotapi.User, now time.Time) incoming {
	inc := incoming{in: dialog.Inbound{At: now}}
	if u.UpdateID > 0 {
		inc.in.ID = strconv.Itoa(u.UpdateID)
	}
	switch {
	case u.Message != nil:
		parseMessage(&inc, u.Message, me)
	case u.CallbackQuery != nil:
		parseCallback(&inc, u.CallbackQuery, me)
	case u.PreCheckoutQuery != nil:
		q := u.PreCheckoutQuery
		if q.ID == "" {
			inc.reason = "pre-checkout query without id"
			return inc
		}
		inc.kind, inc.queryID = preCheckout, q.ID
		inc.order, inc.amount = q.InvoicePayload, orders.Money{Amount: int64(q.TotalAmount), Currency: q.Currency}
		if q.From != nil {
			inc.locale = q.From.LanguageCode
			// Invoices are sent in private chats, whose id is the user's.
			id := strconv.FormatInt(q.From.ID, 10)
			inc.in.Key = dialog.Key{Channel: Channel, Chat: id, User: id}
		}
	case u.EditedMessage != nil:
		inc.reason = "edited message"
	case u.ChannelPost != nil, u.EditedChannelPost != nil:
		inc.reason = "channel post"
	default:
		inc.reason = "update type not handled"
	}
	return inc
}

func parseMessage(inc *incoming, m *tgbotapi.Message, me tgbotapi.User) {
	if m.Chat == nil || m.From == nil || m.From.IsBot {
		inc.reason = "message without a human sender"
		return
	}
	inc.chat = m.Chat.ID
	inc.locale = m.From.LanguageCode
	inc.in.Key = dialog.Key{Channel: Channel, Chat: strconv.FormatInt(m.Chat.ID, 10), User: strconv.FormatInt(m.From.ID, 10)}
	inc.in.Lang = m.From.LanguageCode
	switch m.Chat.Type {
	case "private":
	case "group", "supergroup":
		parseGroupMessage(inc, m, me)
		return
	default:
		inc.reason = "chat type not served"
		return
	}
	switch {
	case m.SuccessfulPayment != nil:
		p := m.SuccessfulPayment
		if p.InvoicePayload == "" || p.TelegramPaymentChargeID == "" || p.TotalAmount <= 0 || p.Currency == "" {
			inc.reason = reasonPayment
			return
		}
		inc.kind = submit
		inc.in.Payment = &dialog.PaymentEvent{
			OrderNumber: p.InvoicePayload,
			ChargeID:    p.TelegramPaymentChargeID,
			Amount:      orders.Money{Amount: int64(p.TotalAmount), Currency: p.Currency},
		}
	case m.Contact != nil:
		c := m.Contact
		inc.kind = submit
		inc.in.Contact = &dialog.Contact{
			Phone:     c.PhoneNumber,
			FirstName: c.FirstName,
			LastName:  c.LastName,
			// Telegram fills user_id when the contact is a Telegram user;
			// the request_contact button shares the sender's own.
			Own: c.UserID != 0 && c.UserID == m.From.ID,
		}
	case m.Location != nil || m.Venue != nil:
		loc := m.Location
		if loc == nil {
			loc = &m.Venue.Location
		}
		if !validPoint(loc.Latitude, loc.Longitude) {
			inc.kind = unsupported
			return
		}
		inc.kind = submit
		inc.in.Location = &dialog.Location{Latitude: loc.Latitude, Longitude: loc.Longitude}
	case m.Text != "":
		inc.kind = submit
		inc.in.Text = normalizeCommand(m.Text, me.UserName)
	case isServiceMessage(m):
		inc.reason = "service message"
	default:
		inc.kind = unsupported
	}
}

// parseGroupMessage answers only what is addressed to the bot: a command
// with its @username, or a reply to one of its messages.
func parseGroupMessage(inc *incoming, m *tgbotapi.Message, me tgbotapi.User) {
	cmd, target, args := splitCommand(m.Text)
	addressed := cmd != "" && target != "" && strings.EqualFold(target, me.UserName)
	replyToMe := m.ReplyToMessage != nil && m.ReplyToMessage.From != nil && me.ID != 0 && m.ReplyToMessage.From.ID == me.ID
	if !addressed && !replyToMe {
		inc.reason = "group message not addressed to the bot"
		return
	}
	inc.kind = groupHint
	inc.replyTo = m.MessageID
	if strings.EqualFold(cmd, "/start") && validPayload(args) {
		inc.payload = args
	}
}

func parseCallback(inc *incoming, q *tgbotapi.CallbackQuery, me tgbotapi.User) {
	if q.ID == "" || q.From == nil {
		inc.reason = "callback query without id or sender"
		return
	}
	inc.callbackID = q.ID
	inc.locale = q.From.LanguageCode
	inc.kind = answerOnly
	m := q.Message
	if m == nil || m.Chat == nil {
		inc.reason = "callback on an inline message"
		return
	}
	inc.chat = m.Chat.ID
	if m.Chat.Type != "private" {
		inc.reason = "callback in a group"
		inc.kind = groupHint
		return
	}
	if q.Data == "" || len(q.Data) > 64 || !utf8.ValidString(q.Data) {
		inc.reason = "callback without valid data"
		return
	}
	inc.kind = submit
	inc.in.Key = dialog.Key{Channel: Channel, Chat: strconv.FormatInt(m.Chat.ID, 10), User: strconv.FormatInt(q.From.ID, 10)}
	inc.in.Lang = q.From.LanguageCode
	inc.in.Action = q.Data
	inc.messageID = m.MessageID
	// Edit in place only our own text messages that are still accessible
	// (Telegram sends date 0 for old ones) and are not notifications.
	inc.editable = m.MessageID != 0 && m.Date != 0 && len(m.Photo) == 0 && m.Invoice == nil &&
		(m.From == nil || me.ID == 0 || m.From.ID == me.ID) &&
		!strings.HasPrefix(m.Text, notificationMark) && !strings.HasPrefix(m.Text, dialog.CardMark)
}

// splitCommand splits "/cmd@Bot args" into "/cmd", "Bot" and "args"; cmd is
// "" when text is not a command.
func splitCommand(text string) (cmd, target, args string) {
	if !strings.HasPrefix(text, "/") {
		return "", "", ""
	}
	head, rest := text, ""
	if i := strings.IndexFunc(text, unicode.IsSpace); i >= 0 {
		head, rest = text[:i], text[i:]
	}
	cmd, target, _ = strings.Cut(head, "@")
	if len(cmd) < 2 {
		return "", "", ""
	}
	return cmd, target, strings.TrimSpace(rest)
}

// normalizeCommand turns "/start@ThisBot p_sku" into "/start p_sku", the
// form the dialog reads. Commands for other bots are left as typed.
func normalizeCommand(text, username string) string {
	cmd, target, args := splitCommand(text)
	if cmd == "" || (target != "" && !strings.EqualFold(target, username)) {
		return text
	}
	if args == "" {
		return cmd
	}
	return cmd + " " + args
}

// validPayload reports whether s can travel in a t.me ?start= link.
func validPayload(s string) bool { return s != "" && len(s) <= 64 && tokenChars(s) }

func validPoint(lat, lon float64) bool {
	return !math.IsNaN(lat) && !math.IsNaN(lon) && lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180
}

// isServiceMessage reports messages Telegram generates about the chat
// itself, which deserve no answer.
func isServiceMessage(m *tgbotapi.Message) bool {
	return m.PinnedMessage != nil || len(m.NewChatMembers) > 0 || m.LeftChatMember != nil ||
		m.NewChatTitle != "" || len(m.NewChatPhoto) > 0 || m.DeleteChatPhoto || m.GroupChatCreated ||
		m.SuperGroupChatCreated || m.ChannelChatCreated || m.MigrateToChatID != 0 || m.MigrateFromChatID != 0 ||
		m.MessageAutoDeleteTimerChanged != nil || m.ProximityAlertTriggered != nil || m.ConnectedWebsite != "" ||
		m.VoiceChatScheduled != nil || m.VoiceChatStarted != nil || m.VoiceChatEnded != nil ||
		m.VoiceChatParticipantsInvited != nil || m.Invoice != nil
}

package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// SecretHeader is the header Telegram sends the webhook's secret token in.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// NewUser returns a Telegram user with the given id and language_code.
func NewUser(id int64, lang string) tgbotapi.User {
	return tgbotapi.User{ID: id, FirstName: userName(id), LastName: "Tester", UserName: "user" + strconv.FormatInt(id, 10), LanguageCode: lang}
}

func userName(id int64) string { return "User" + strconv.FormatInt(id, 10) }

// The update builders below assign update ids and message ids the way
// Telegram does (update ids increase; message ids increase per chat, shared
// by the user's and the bot's messages). Push them in the order built.

func (s *Server) newUpdate() tgbotapi.Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextID
	s.nextID++
	return tgbotapi.Update{UpdateID: id}
}

// userMessage builds a message from a user in a chat and keeps its id.
func (s *Server) userMessage(chat int64, kind string, from tgbotapi.User) *tgbotapi.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.chat(chat)
	cs.kind = kind
	m := &message{chat: chat, date: time.Now().Unix(), rawUpdate: true}
	s.add(cs, m)
	c := &tgbotapi.Chat{ID: chat, Type: kind}
	if kind == "private" {
		c.FirstName, c.LastName, c.UserName = from.FirstName, from.LastName, from.UserName
	} else {
		c.Title = "Test group"
	}
	f := from
	return &tgbotapi.Message{MessageID: m.id, From: &f, Chat: c, Date: int(m.date)}
}

// withText sets a text and, for commands, the bot_command entity Telegram adds.
func withText(m *tgbotapi.Message, text string) {
	m.Text = text
	if strings.HasPrefix(text, "/") {
		cmd, _, _ := strings.Cut(text, " ")
		m.Entities = []tgbotapi.MessageEntity{{Type: "bot_command", Offset: 0, Length: utf16Len(cmd)}}
	}
}

// Text is a text message (or command) from a user in their private chat
// with the bot.
func (s *Server) Text(from tgbotapi.User, text string) tgbotapi.Update {
	u := s.newUpdate()
	u.Message = s.userMessage(from.ID, "private", from)
	withText(u.Message, text)
	return u
}

// GroupText is a message in a group (negative chat id; "supergroup" when
// below -1000000000000), optionally a reply to another message.
func (s *Server) GroupText(group int64, from tgbotapi.User, text string, replyTo *tgbotapi.Message) tgbotapi.Update {
	kind := "group"
	if group < -1000000000000 {
		kind = "supergroup"
	}
	u := s.newUpdate()
	u.Message = s.userMessage(group, kind, from)
	withText(u.Message, text)
	u.Message.ReplyToMessage = replyTo
	return u
}

// Sticker is a sticker from a user in their private chat: something the bot
// cannot read.
func (s *Server) Sticker(from tgbotapi.User) tgbotapi.Update {
	u := s.newUpdate()
	u.Message = s.userMessage(from.ID, "private", from)
	u.Message.Sticker = &tgbotapi.Sticker{FileID: "CAACAgIAAxkBAAIB", FileUniqueID: "AgADAQAD", Width: 512, Height: 512, Emoji: "👍"}
	return u
}

// Contact is a shared contact; contactUserID is the Telegram user the phone
// belongs to (the sender's own id when shared with the request_contact
// button, 0 for a contact typed in by hand).
func (s *Server) Contact(from tgbotapi.User, phone string, contactUserID int64) tgbotapi.Update {
	u := s.newUpdate()
	u.Message = s.userMessage(from.ID, "private", from)
	u.Message.Contact = &tgbotapi.Contact{PhoneNumber: phone, FirstName: from.FirstName, LastName: from.LastName, UserID: contactUserID}
	return u
}

// Location is a shared location.
func (s *Server) Location(from tgbotapi.User, lat, lon float64) tgbotapi.Update {
	u := s.newUpdate()
	u.Message = s.userMessage(from.ID, "private", from)
	u.Message.Location = &tgbotapi.Location{Latitude: lat, Longitude: lon}
	return u
}

// Callback is a press of a button whose callback_data is data on message on.
func (s *Server) Callback(from tgbotapi.User, on tgbotapi.Message, data string) tgbotapi.Update {
	u := s.newUpdate()
	s.mu.Lock()
	s.nextCB++
	id := fmt.Sprintf("%d%06d", from.ID, s.nextCB)
	s.callbacks[id] = false
	s.mu.Unlock()
	msg := on
	u.CallbackQuery = &tgbotapi.CallbackQuery{ID: id, From: &from, Message: &msg, ChatInstance: "-51234567890" + strconv.FormatInt(on.Chat.ID%1000, 10), Data: data}
	return u
}

// Label matches a button whose label contains substr.
func Label(substr string) func(tgbotapi.InlineKeyboardButton) bool {
	return func(b tgbotapi.InlineKeyboardButton) bool { return strings.Contains(b.Text, substr) }
}

// Data matches a button whose callback_data has the given prefix or suffix.
func Data(affix string) func(tgbotapi.InlineKeyboardButton) bool {
	return func(b tgbotapi.InlineKeyboardButton) bool {
		return b.CallbackData != nil && (strings.HasPrefix(*b.CallbackData, affix) || strings.HasSuffix(*b.CallbackData, affix))
	}
}

// Tap presses the first button matching match on the newest bot message in
// chat that has one, as the user from would.
func (s *Server) Tap(from tgbotapi.User, chat int64, match func(tgbotapi.InlineKeyboardButton) bool) (tgbotapi.Update, error) {
	msgs := s.Messages(chat)
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].ReplyMarkup == nil {
			continue
		}
		for _, row := range msgs[i].ReplyMarkup.InlineKeyboard {
			for _, b := range row {
				if b.CallbackData != nil && match(b) {
					return s.Callback(from, msgs[i], *b.CallbackData), nil
				}
			}
		}
	}
	return tgbotapi.Update{}, errors.New("telegramtest: no bot message in the chat has a matching button")
}

// PreCheckout is the pre_checkout_query Telegram sends before charging.
func (s *Server) PreCheckout(from tgbotapi.User, currency string, total int, payload string) tgbotapi.Update {
	u := s.newUpdate()
	s.mu.Lock()
	s.nextCB++
	id := fmt.Sprintf("%d%06d", from.ID, s.nextCB)
	s.checkouts[id] = &CheckoutAnswer{issued: time.Now()}
	s.mu.Unlock()
	f := from
	u.PreCheckoutQuery = &tgbotapi.PreCheckoutQuery{ID: id, From: &f, Currency: currency, TotalAmount: total, InvoicePayload: payload}
	return u
}

// SuccessfulPayment is the service message announcing a completed payment.
func (s *Server) SuccessfulPayment(from tgbotapi.User, currency string, total int, payload, chargeID string) tgbotapi.Update {
	u := s.newUpdate()
	u.Message = s.userMessage(from.ID, "private", from)
	u.Message.SuccessfulPayment = &tgbotapi.SuccessfulPayment{
		Currency: currency, TotalAmount: total, InvoicePayload: payload,
		TelegramPaymentChargeID: chargeID, ProviderPaymentChargeID: "prov-" + chargeID,
	}
	return u
}

// PostWebhook POSTs an update to a webhook URL as Telegram does, with the
// secret token header when secret is not "". update is a tgbotapi.Update
// or raw JSON ([]byte, json.RawMessage, string). It returns the HTTP status.
// A Bot API method the webhook answers with is dropped: use
// Server.PostWebhook to have it run.
func PostWebhook(url, secret string, update any) (int, error) {
	status, _, _, err := postWebhook(url, secret, update)
	return status, err
}

// PostWebhook is PostWebhook for a bot of this server. When the webhook
// answers with a Bot API method in its body (a bot may make one request
// that way, without learning its result), the server runs it as Telegram
// would, recorded as a call with Webhook set; injected faults do not apply
// to it.
func (s *Server) PostWebhook(url, secret string, update any) (int, error) {
	status, body, ctype, err := postWebhook(url, secret, update)
	if err != nil || status != http.StatusOK || len(bytes.TrimSpace(body)) == 0 {
		return status, err
	}
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", ctype)
	call := Call{At: time.Now(), Webhook: true}
	if call.Params, call.Files, err = readParams(r); err != nil {
		return status, fmt.Errorf("webhook answer: %w", err)
	}
	if call.Method = call.Params["method"]; call.Method == "" {
		return status, fmt.Errorf("webhook answer without a method: %q", body)
	}
	delete(call.Params, "method")
	s.mu.Lock()
	call.Token = s.hook.token
	call.Status, _ = s.handle(call)
	s.mu.Unlock()
	s.calls.Record(call)
	return status, nil
}

// postWebhook posts update and returns the answer's status, body and
// content type.
func postWebhook(url, secret string, update any) (int, []byte, string, error) {
	var body []byte
	switch u := update.(type) {
	case []byte:
		body = u
	case json.RawMessage:
		body = u
	case string:
		body = []byte(u)
	default:
		var err error
		if body, err = json.Marshal(update); err != nil {
			return 0, nil, "", err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(SecretHeader, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, "", err
	}
	return resp.StatusCode, answer, resp.Header.Get("Content-Type"), nil
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// botAPI is a minimal Bot API server for load: it answers every method the
// bot calls with valid minimal JSON, and keeps, for each chat a customer
// plays, the bot's recent messages and when each arrived. Messages to chats
// nobody plays (status notifications after a conversation ended) are only
// counted. The full fake (bot/telegram/telegramtest) records every call
// for assertions; this one stays out of the way of the server it measures.
type botAPI struct {
	chats    sync.Map // int64 → *chat
	byMethod sync.Map // method → *atomic.Int64, the calls made during the load

	nextMessage atomic.Int64
	calls       atomic.Int64 // every method called
	messages    atomic.Int64 // messages sent or edited in played chats
	unsolicited atomic.Int64 // messages to chats nobody plays
	callbacks   atomic.Int64 // answerCallbackQuery calls, in webhook answers too
	webhooks    atomic.Int64 // setWebhook calls
	inAnswers   atomic.Int64 // methods called in webhook answers
}

func newBotAPI() *botAPI { return &botAPI{} }

// play starts recording the messages to chat id; stop ends it.
func (a *botAPI) play(id int64) *chat {
	c := &chat{id: id, changed: make(chan struct{}, 1)}
	a.chats.Store(id, c)
	return c
}

func (a *botAPI) stop(id int64) { a.chats.Delete(id) }

// ServeHTTP answers POST /bot<token>/<method>.
func (a *botAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, method, ok := splitPath(r.URL.Path)
	if !ok {
		http.Error(w, `{"ok":false,"error_code":404,"description":"Not Found"}`, http.StatusNotFound)
		return
	}
	a.calls.Add(1)
	a.count(method)
	w.Header().Set("Content-Type", "application/json")
	switch method {
	case "getMe":
		fmt.Fprintf(w, `{"ok":true,"result":{"id":%d,"is_bot":true,"first_name":"Orderbench","username":%q}}`, botID(token), botUsername)
	case "sendMessage", "sendPhoto", "sendInvoice", "editMessageText", "editMessageReplyMarkup":
		a.message(w, r, method)
	case "answerCallbackQuery":
		a.callbacks.Add(1)
		fmt.Fprint(w, `{"ok":true,"result":true}`)
	case "setWebhook":
		a.webhooks.Add(1)
		fmt.Fprint(w, `{"ok":true,"result":true}`)
	case "getUpdates":
		// Only a bot polling by mistake calls this: slow it down.
		select {
		case <-time.After(time.Second):
		case <-r.Context().Done():
		}
		fmt.Fprint(w, `{"ok":true,"result":[]}`)
	default: // setMyCommands, deleteWebhook, answerPreCheckoutQuery, …
		fmt.Fprint(w, `{"ok":true,"result":true}`)
	}
}

// webhookAnswer takes the body of a webhook's answer: empty, or the one
// Bot API method a bot may call that way (Telegram runs it and tells the
// bot nothing). orderbench's bots answer buttons that way.
func (a *botAPI) webhookAnswer(body []byte) error {
	if len(body) == 0 {
		return nil
	}
	var call struct {
		Method string `json:"method"`
		ID     string `json:"callback_query_id"`
	}
	if err := json.Unmarshal(body, &call); err != nil || call.Method == "" {
		return fmt.Errorf("webhook answered with %.80q, not a method call", body)
	}
	a.inAnswers.Add(1)
	a.count(call.Method + " in answers")
	if call.Method == "answerCallbackQuery" {
		if call.ID == "" {
			return fmt.Errorf("webhook answered a callback query without its id")
		}
		a.callbacks.Add(1)
	}
	return nil
}

// count counts a call of method.
func (a *botAPI) count(method string) {
	n, ok := a.byMethod.Load(method)
	if !ok {
		n, _ = a.byMethod.LoadOrStore(method, new(atomic.Int64))
	}
	n.(*atomic.Int64).Add(1)
}

// methods are the calls made so far by method, those in webhook answers
// counted apart (" in answers").
func (a *botAPI) methods() map[string]int64 {
	m := map[string]int64{}
	a.byMethod.Range(func(k, v any) bool {
		m[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return m
}

// botUsername is the bot's @username in getMe and in the updates.
const botUsername = "orderbench_bot"

// splitPath splits "/bot<token>/<method>".
func splitPath(p string) (token, method string, ok bool) {
	rest, ok := strings.CutPrefix(p, "/bot")
	if !ok {
		return "", "", false
	}
	token, method, ok = strings.Cut(rest, "/")
	return token, method, ok && token != "" && method != ""
}

// botID is the bot's user id, the number before the token's colon (1 when
// there is none).
func botID(token string) int64 {
	id, _, _ := strings.Cut(token, ":")
	if n, err := strconv.ParseInt(id, 10, 64); err == nil && n > 0 {
		return n
	}
	return 1
}

// message records a message sent or edited and answers with it.
func (a *botAPI) message(w http.ResponseWriter, r *http.Request, method string) {
	// FormValue reads url-encoded and multipart bodies (an uploaded photo).
	chatID, err := strconv.ParseInt(r.FormValue("chat_id"), 10, 64)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`)
		return
	}
	at := time.Now()
	m := message{markup: r.FormValue("reply_markup")}
	edit := strings.HasPrefix(method, "edit")
	if edit {
		m.id, _ = strconv.ParseInt(r.FormValue("message_id"), 10, 64)
	} else {
		m.id = a.nextMessage.Add(1)
	}
	switch method {
	case "sendPhoto":
		m.text, m.photo = r.FormValue("caption"), true
	case "sendInvoice":
		m.text = r.FormValue("title") + "\n" + r.FormValue("description")
	case "editMessageReplyMarkup":
		m.keepText = true
	default:
		m.text = r.FormValue("text")
	}
	if v, ok := a.chats.Load(chatID); ok {
		v.(*chat).record(m, edit, at)
		a.messages.Add(1)
	} else {
		a.unsolicited.Add(1)
	}
	fmt.Fprintf(w, `{"ok":true,"result":{"message_id":%d,"date":%d,"chat":{"id":%d,"type":"private"},"text":"ok"}}`, m.id, at.Unix(), chatID)
}

// maxKept is how many of its newest messages a chat keeps: a step's reply
// is a few messages.
const maxKept = 16

// chat is what the bot sent to one played chat.
type chat struct {
	id      int64
	changed chan struct{} // signalled after every message

	mu   sync.Mutex
	seq  int       // messages sent or edited so far
	msgs []message // the newest last
}

// message is one of the bot's messages as it stands now.
type message struct {
	id       int64
	seq      int       // the chat's seq when it was sent or last edited
	at       time.Time // when it was sent or last edited
	text     string    // text, caption, or an invoice's title and description, HTML-escaped
	markup   string    // reply_markup as sent: JSON, read only when a button is looked for
	photo    bool
	keepText bool // an edit of the markup alone
}

// record adds a message or applies an edit; an edit of a message no longer
// kept is added.
func (c *chat) record(m message, edit bool, at time.Time) {
	c.mu.Lock()
	c.seq++
	m.seq, m.at = c.seq, at
	i := -1
	if edit {
		for j := len(c.msgs) - 1; j >= 0; j-- {
			if c.msgs[j].id == m.id {
				i = j
				break
			}
		}
	}
	switch {
	case i >= 0:
		if m.keepText {
			m.text, m.photo = c.msgs[i].text, c.msgs[i].photo
		}
		c.msgs[i] = m
	default:
		if len(c.msgs) == maxKept {
			c.msgs = append(c.msgs[:0], c.msgs[1:]...)
		}
		c.msgs = append(c.msgs, m)
	}
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// mark is the chat's seq now: the messages after it answer what is sent next.
func (c *chat) mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq
}

// repliedAfter reports whether any message was sent or edited after seq.
func (c *chat) repliedAfter(seq int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq > seq
}

// find returns the newest message sent or edited after seq that matches.
func (c *chat) find(since int, match func(message) bool) (message, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.msgs) - 1; i >= 0; i-- {
		if m := c.msgs[i]; m.seq > since && match(m) {
			return m, true
		}
	}
	return message{}, false
}

// last is the text of the newest message, for error reports.
func (c *chat) last() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.msgs) == 0 {
		return ""
	}
	return html.UnescapeString(c.msgs[len(c.msgs)-1].text)
}

// waitFor waits until a message sent or edited after seq matches, ctx is
// done, or deadline passes.
func (c *chat) waitFor(ctx context.Context, since int, deadline time.Time, match func(message) bool) (message, bool) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		if m, ok := c.find(since, match); ok {
			return m, true
		}
		select {
		case <-c.changed:
		case <-timer.C:
			return c.find(since, match)
		case <-ctx.Done():
			return message{}, false
		}
	}
}

// containing matches a message whose text contains s.
func containing(s string) func(message) bool {
	return func(m message) bool { return strings.Contains(html.UnescapeString(m.text), s) }
}

// button is one inline keyboard button.
type button struct {
	Text string `json:"text"`
	Data string `json:"callback_data"`
}

// buttons are a message's inline keyboard buttons, row after row.
func (m message) buttons() []button {
	if m.markup == "" {
		return nil
	}
	var kb struct {
		InlineKeyboard [][]button `json:"inline_keyboard"`
	}
	if json.Unmarshal([]byte(m.markup), &kb) != nil {
		return nil
	}
	var all []button
	for _, row := range kb.InlineKeyboard {
		all = append(all, row...)
	}
	return all
}

// buttonLabelled returns the first button of m whose label contains label.
func (m message) buttonLabelled(label string) (button, bool) {
	if !strings.Contains(m.markup, "inline_keyboard") {
		return button{}, false
	}
	for _, b := range m.buttons() {
		if b.Data != "" && strings.Contains(b.Text, label) {
			return b, true
		}
	}
	return button{}, false
}

// Package telegramtest is a fake Telegram Bot API server for tests: a real
// HTTP server (httptest) that answers the methods orderbot uses the way
// Telegram does, keeps the messages the bot sent per chat, queues updates for
// long polling, records every call, and can be told to fail.
//
// A bot under test points its API endpoint at URL() and calls
// URL()+"/bot<token>/<method>". Any token is accepted and recorded.
package telegramtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"orderbot/bot/internal/calllog"
)

// The bot the server pretends to be, as getMe reports it.
const (
	BotID       int64 = 7000000001
	BotUsername       = "orderbot_test_bot"
	BotName           = "Order Test Bot"
)

// Telegram's limits, enforced as Telegram enforces them.
const (
	MaxTextLen     = 4096 // UTF-16 units of message text after entity parsing
	MaxCaptionLen  = 1024 // UTF-16 units of a caption after entity parsing
	MaxCallbackLen = 64   // bytes of callback_data
	// MaxStarsInvoice is the largest Stars invoice the server accepts, the
	// ceiling the bot keeps to.
	MaxStarsInvoice = 10000
)

// Call is one request the server received.
type Call struct {
	Seq    int               // position in the order calls completed, from 1
	Method string            // as in the URL path, e.g. "sendMessage"
	Token  string            // the token in the URL path
	Params map[string]string // form, multipart or JSON fields; JSON objects as JSON text
	Files  map[string]string // uploaded multipart files: field → file name
	At     time.Time         // when the request arrived
	Status int               // HTTP status answered; 0 when the call hung
	Fault  bool              // answered by an injected fault
	// Webhook is set on a call made as the answer to a webhook request
	// (Server.PostWebhook); its Token is that of the bot that set the
	// webhook.
	Webhook bool
}

// Param returns a parameter, "" when absent.
func (c Call) Param(name string) string { return c.Params[name] }

// Int returns a numeric parameter, 0 when absent or not a number.
func (c Call) Int(name string) int64 {
	n, _ := strconv.ParseInt(c.Params[name], 10, 64)
	return n
}

// Decode unmarshals a JSON-valued parameter (reply_markup, allowed_updates,
// commands) into v.
func (c Call) Decode(name string, v any) error {
	s, ok := c.Params[name]
	if !ok {
		return fmt.Errorf("telegramtest: %s has no parameter %q", c.Method, name)
	}
	return json.Unmarshal([]byte(s), v)
}

// Fault is an injected failure. Code is the HTTP status and error_code
// (429, 500, 403, 400, 401, …); Hang makes the call block until the client
// gives up or the server closes.
type Fault struct {
	Code        int
	Description string
	RetryAfter  int // seconds, for 429
	Hang        bool
}

// TooManyRequests is Telegram's flood-control answer.
func TooManyRequests(retryAfter int) Fault {
	return Fault{Code: 429, Description: fmt.Sprintf("Too Many Requests: retry after %d", retryAfter), RetryAfter: retryAfter}
}

// InternalError is a 500 from the Bot API.
func InternalError() Fault { return Fault{Code: 500, Description: "Internal Server Error"} }

// Blocked is the 403 for a user who blocked the bot.
func Blocked() Fault { return Fault{Code: 403, Description: "Forbidden: bot was blocked by the user"} }

// BadRequest is a 400 with the given description (without the "Bad
// Request: " prefix).
func BadRequest(desc string) Fault { return Fault{Code: 400, Description: "Bad Request: " + desc} }

// Unauthorized is the 401 for a wrong token.
func Unauthorized() Fault { return Fault{Code: 401, Description: "Unauthorized"} }

// Hang makes a call block until the client cancels it or the server closes.
func Hang() Fault { return Fault{Hang: true} }

// message is a message the server keeps, as its chat shows it now.
type message struct {
	id        int
	chat      int64
	fromBot   bool
	date      int64
	text      string // plain text after entity parsing
	caption   string
	photo     string // file_id, for photos
	markup    *tgbotapi.InlineKeyboardMarkup
	invoice   bool
	rawUpdate bool // sent by a user through an update builder
}

type queued struct {
	id   int
	kind string // the update's field: "message", "callback_query", …
	raw  json.RawMessage
}

type chatState struct {
	kind     string // private, group, supergroup
	lastID   int
	messages map[int]*message
	order    []int                         // message ids, oldest first
	keyboard *tgbotapi.ReplyKeyboardMarkup // the reply keyboard shown, nil when none
}

type webhook struct {
	token   string // of the bot that set it
	url     string
	secret  string
	allowed []string
}

// Server is a fake Bot API server. It is safe for concurrent use.
type Server struct {
	srv     *httptest.Server
	closing chan struct{}
	once    sync.Once

	calls  *calllog.Log[Call]
	faults calllog.Faults[Fault]

	mu        sync.Mutex
	updates   []queued // every update pushed; those below offset are confirmed
	offset    int      // updates with a lower id are confirmed
	nextID    int      // next update_id to assign
	allowed   []string // allowed_updates of the last getUpdates that gave them
	pushWake  chan struct{}
	poller    int // generation of the current long poll
	waiting   int // long polls waiting for an update now
	pollWake  chan struct{}
	chats     map[int64]*chatState
	callbacks map[string]bool            // callback query ids issued; true once answered
	checkouts map[string]*CheckoutAnswer // pre-checkout query ids issued
	nextCB    int
	photos    int
	invoices  []Invoice
	hook      webhook
	commands  map[string][]tgbotapi.BotCommand // by language_code
}

// NewServer starts a server that is closed when t ends.
func NewServer(t testing.TB) *Server {
	s := &Server{
		calls:     calllog.New("telegramtest", func(c *Call, seq int) { c.Seq = seq }),
		closing:   make(chan struct{}),
		pushWake:  make(chan struct{}),
		pollWake:  make(chan struct{}),
		nextID:    100001,
		chats:     make(map[int64]*chatState),
		callbacks: make(map[string]bool),
		checkouts: make(map[string]*CheckoutAnswer),
		commands:  make(map[string][]tgbotapi.BotCommand),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	if t != nil {
		t.Cleanup(s.Close)
	}
	return s
}

// URL is the base URL: the bot calls URL()+"/bot<token>/<method>".
func (s *Server) URL() string { return s.srv.URL }

// Close releases hanging calls and long polls and stops the server.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closing)
		s.srv.Close()
	})
}

// FailNext makes the next n calls of method answer with f.
func (s *Server) FailNext(method string, n int, f Fault) { s.faults.Add(method, n, f) }

// Calls returns the calls of method completed so far, oldest first; all
// calls when method is "".
func (s *Server) Calls(method string) []Call {
	return s.calls.Calls(func(c Call) bool { return method == "" || c.Method == method })
}

// WaitFor returns the first call, recorded or still to come, for which
// match is true; it gives up when ctx ends.
func (s *Server) WaitFor(ctx context.Context, match func(Call) bool) (Call, error) {
	return s.calls.WaitFor(ctx, match)
}

// WaitCalls waits until n calls match and returns them, oldest first.
func (s *Server) WaitCalls(ctx context.Context, n int, match func(Call) bool) ([]Call, error) {
	return s.calls.Wait(ctx, n, match)
}

// Method matches calls of one method; with more matchers, all must match.
func Method(name string, and ...func(Call) bool) func(Call) bool {
	return calllog.And(func(c Call) bool { return c.Method == name }, and...)
}

// After matches calls that completed after the call with sequence seq.
func After(seq int) func(Call) bool { return func(c Call) bool { return c.Seq > seq } }

// LastSeq is the sequence number of the latest completed call.
func (s *Server) LastSeq() int { return s.calls.Len() }

// Webhook returns what setWebhook registered; url is "" when none is set.
func (s *Server) Webhook() (url, secret string, allowed []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hook.url, s.hook.secret, slices.Clone(s.hook.allowed)
}

// Commands returns the commands set for a language code ("" for the default).
func (s *Server) Commands(lang string) []tgbotapi.BotCommand {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands[lang])
}

// Offset is the lowest update_id not yet confirmed by getUpdates.
func (s *Server) Offset() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offset
}

// ResetOffset forgets which updates were confirmed, so every update pushed
// is delivered again: what Telegram does when a bot stopped before it
// confirmed them.
func (s *Server) ResetOffset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset = 0
	s.wakePollers()
}

// Messages returns the bot's messages in a chat as they are now, oldest first.
func (s *Server) Messages(chat int64) []tgbotapi.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.chats[chat]
	if cs == nil {
		return nil
	}
	var out []tgbotapi.Message
	for _, id := range cs.order {
		if m := cs.messages[id]; m != nil && m.fromBot {
			out = append(out, s.apiMessage(m))
		}
	}
	return out
}

// Message returns one message of a chat as it is now.
func (s *Server) Message(chat int64, id int) (tgbotapi.Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.chats[chat]
	if cs == nil || cs.messages[id] == nil {
		return tgbotapi.Message{}, false
	}
	return s.apiMessage(cs.messages[id]), true
}

// ReplyKeyboard returns the reply keyboard the chat shows, nil when none.
func (s *Server) ReplyKeyboard(chat int64) *tgbotapi.ReplyKeyboardMarkup {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cs := s.chats[chat]; cs != nil {
		return cs.keyboard
	}
	return nil
}

// Answered reports whether a callback query was answered.
func (s *Server) Answered(callbackID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.callbacks[callbackID]
}

// PushUpdate queues u for getUpdates, assigning update_id when it is 0, and
// returns its id.
func (s *Server) PushUpdate(u tgbotapi.Update) int {
	s.mu.Lock()
	if u.UpdateID == 0 {
		u.UpdateID = s.nextID
		s.nextID++
	}
	s.mu.Unlock()
	raw, err := json.Marshal(u)
	if err != nil {
		panic(err) // an Update always marshals
	}
	id, _ := s.PushRaw(raw)
	return id
}

// PushRaw queues an update given as JSON, as Telegram would send it. A
// missing or zero update_id is assigned.
func (s *Server) PushRaw(raw []byte) (int, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return 0, fmt.Errorf("telegramtest: update is not a JSON object: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var id int
	if v, ok := fields["update_id"]; ok {
		json.Unmarshal(v, &id)
	}
	if id == 0 {
		id = s.nextID
		s.nextID++
		fields["update_id"] = json.RawMessage(strconv.Itoa(id))
	} else if id >= s.nextID {
		s.nextID = id + 1
	}
	kind := ""
	for k, v := range fields {
		if k != "update_id" && string(v) != "null" {
			kind = k
		}
	}
	data, _ := json.Marshal(fields)
	s.updates = append(s.updates, queued{id: id, kind: kind, raw: data})
	s.wakePollers()
	return id, nil
}

// Pending returns how many queued updates are not yet confirmed.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, u := range s.updates {
		if u.id >= s.offset {
			n++
		}
	}
	return n
}

func (s *Server) wakePollers() {
	close(s.pushWake)
	s.pushWake = make(chan struct{})
}

// serveHTTP routes "/bot<token>/<method>".
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || method == "" {
		writeJSON(w, http.StatusNotFound, map[string]any{"ok": false, "error_code": 404, "description": "Not Found"})
		return
	}
	call := Call{Method: method, Token: token, At: at}
	var err error
	call.Params, call.Files, err = readParams(r)
	if err != nil {
		s.finish(w, call, http.StatusBadRequest, apiError(400, "Bad Request: "+err.Error(), 0))
		return
	}

	if fault, faulted := s.faults.Next(method); faulted {
		call.Fault = true
		if fault.Hang {
			s.calls.Record(call)
			select {
			case <-r.Context().Done():
			case <-s.closing:
			}
			return
		}
		s.finish(w, call, fault.Code, apiError(fault.Code, fault.Description, fault.RetryAfter))
		return
	}

	var status int
	var body map[string]any
	if method == "getUpdates" {
		status, body = s.getUpdates(r.Context(), call)
	} else {
		s.mu.Lock()
		status, body = s.handle(call)
		s.mu.Unlock()
	}
	s.finish(w, call, status, body)
}

func (s *Server) finish(w http.ResponseWriter, call Call, status int, body map[string]any) {
	call.Status = status
	s.calls.Record(call)
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, body map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

func ok(result any) (int, map[string]any) {
	return http.StatusOK, map[string]any{"ok": true, "result": result}
}

func apiError(code int, desc string, retryAfter int) map[string]any {
	body := map[string]any{"ok": false, "error_code": code, "description": desc}
	if retryAfter > 0 {
		body["parameters"] = map[string]any{"retry_after": retryAfter}
	}
	return body
}

func fail(code int, desc string) (int, map[string]any) { return code, apiError(code, desc, 0) }

// readParams reads query, form, multipart or JSON parameters.
func readParams(r *http.Request) (map[string]string, map[string]string, error) {
	params := map[string]string{}
	for k, v := range r.URL.Query() {
		params[k] = v[0]
	}
	files := map[string]string{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var fields map[string]json.RawMessage
		if err := json.NewDecoder(io.LimitReader(r.Body, 10<<20)).Decode(&fields); err != nil {
			return nil, nil, fmt.Errorf("can't parse JSON body: %v", err)
		}
		for k, v := range fields {
			var str string
			if json.Unmarshal(v, &str) == nil {
				params[k] = str
			} else {
				params[k] = string(v)
			}
		}
	case "multipart/form-data":
		if err := r.ParseMultipartForm(32 << 20); err != nil {
			return nil, nil, fmt.Errorf("can't parse multipart body: %v", err)
		}
		for k, v := range r.MultipartForm.Value {
			params[k] = v[0]
		}
		for k, v := range r.MultipartForm.File {
			files[k] = v[0].Filename
		}
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return nil, nil, fmt.Errorf("can't parse form body: %v", err)
		}
		for k, v := range r.PostForm {
			params[k] = v[0]
		}
	}
	return params, files, nil
}

// getUpdates answers a long poll: it drops confirmed updates, then returns
// those at or above the offset, waiting up to timeout seconds for one.
func (s *Server) getUpdates(ctx context.Context, c Call) (int, map[string]any) {
	s.mu.Lock()
	if s.hook.url != "" {
		s.mu.Unlock()
		return fail(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
	}
	if v, ok := c.Params["allowed_updates"]; ok && v != "" && v != "null" {
		var allowed []string
		if err := json.Unmarshal([]byte(v), &allowed); err != nil {
			s.mu.Unlock()
			return fail(400, "Bad Request: can't parse allowed_updates JSON array")
		}
		s.allowed = allowed
	}
	offset := int(c.Int("offset"))
	if offset > 0 && offset > s.offset {
		s.offset = offset
	}
	limit := int(c.Int("limit"))
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	timeout := time.Duration(c.Int("timeout")) * time.Second
	s.poller++ // an older long poll ends with 409, as on Telegram
	gen := s.poller
	s.wakePollers()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if gen != s.poller {
			s.mu.Unlock()
			return fail(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running")
		}
		var out []json.RawMessage
		for _, u := range s.updates {
			if u.id < s.offset || (len(s.allowed) > 0 && !slices.Contains(s.allowed, u.kind)) {
				continue
			}
			out = append(out, u.raw)
			if len(out) == limit {
				break
			}
		}
		if len(out) > 0 || timeout <= 0 {
			s.mu.Unlock()
			if out == nil {
				out = []json.RawMessage{}
			}
			return ok(out)
		}
		wake := s.pushWake
		s.setWaiting(+1)
		s.mu.Unlock()
		var status int
		var body map[string]any
		select {
		case <-wake:
		case <-deadline.C:
			timeout = 0
		case <-ctx.Done():
			status, body = fail(499, "Client Closed Request")
		case <-s.closing:
			status, body = ok([]json.RawMessage{})
		}
		s.mu.Lock()
		s.setWaiting(-1)
		if status != 0 {
			s.mu.Unlock()
			return status, body
		}
	}
}

func (s *Server) setWaiting(d int) {
	s.waiting += d
	close(s.pollWake)
	s.pollWake = make(chan struct{})
}

// WaitPolling waits until a long poll (getUpdates with a timeout) is
// waiting for updates at the server.
func (s *Server) WaitPolling(ctx context.Context) error {
	for {
		s.mu.Lock()
		n, wake := s.waiting, s.pollWake
		s.mu.Unlock()
		if n > 0 {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return fmt.Errorf("telegramtest: no long poll before %w", ctx.Err())
		}
	}
}

// handle answers every method but getUpdates, under s.mu.
func (s *Server) handle(c Call) (int, map[string]any) {
	switch c.Method {
	case "getMe":
		return ok(map[string]any{
			"id": BotID, "is_bot": true, "first_name": BotName, "username": BotUsername,
			"can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false,
		})
	case "setMyCommands":
		var cmds []tgbotapi.BotCommand
		if err := c.Decode("commands", &cmds); err != nil {
			return fail(400, "Bad Request: can't parse commands JSON object")
		}
		for _, cmd := range cmds {
			if cmd.Command == "" || len(cmd.Command) > 32 || strings.ToLower(cmd.Command) != cmd.Command {
				return fail(400, "Bad Request: BOT_COMMAND_INVALID")
			}
			if n := len([]rune(cmd.Description)); n < 1 || n > 256 {
				return fail(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
			}
		}
		s.commands[c.Param("language_code")] = cmds
		return ok(true)
	case "getMyCommands":
		return ok(s.commands[c.Param("language_code")])
	case "setWebhook":
		u, err := url.Parse(c.Param("url"))
		if c.Param("url") != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
			return fail(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
		}
		if sec := c.Param("secret_token"); sec != "" && !validSecret(sec) {
			return fail(400, "Bad Request: bad webhook: Secret token contains unallowed characters")
		}
		var allowed []string
		if v := c.Param("allowed_updates"); v != "" {
			json.Unmarshal([]byte(v), &allowed)
		}
		s.hook = webhook{token: c.Token, url: c.Param("url"), secret: c.Param("secret_token"), allowed: allowed}
		return ok(true) // an empty url deletes the webhook, as on Telegram
	case "deleteWebhook":
		s.hook = webhook{}
		if c.Param("drop_pending_updates") == "true" {
			s.offset = s.nextID
		}
		return ok(true)
	case "getWebhookInfo":
		pending := 0
		for _, u := range s.updates {
			if u.id >= s.offset {
				pending++
			}
		}
		info := map[string]any{"url": s.hook.url, "has_custom_certificate": false, "pending_update_count": pending}
		if s.hook.allowed != nil {
			info["allowed_updates"] = s.hook.allowed
		}
		return ok(info)
	case "sendMessage":
		return s.sendMessage(c)
	case "sendPhoto":
		return s.sendPhoto(c)
	case "editMessageText":
		return s.editMessageText(c)
	case "editMessageCaption":
		return s.editMessageCaption(c)
	case "editMessageReplyMarkup":
		return s.editMessageReplyMarkup(c)
	case "deleteMessage":
		cs, m, status, body := s.target(c)
		if m == nil {
			if status == 0 {
				return fail(400, "Bad Request: message to delete not found")
			}
			return status, body
		}
		delete(cs.messages, m.id)
		return ok(true)
	case "answerCallbackQuery":
		id := c.Param("callback_query_id")
		answered, known := s.callbacks[id]
		if !known || answered {
			return fail(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
		}
		if n := utf16Len(c.Param("text")); n > 200 {
			return fail(400, "Bad Request: MESSAGE_TOO_LONG")
		}
		s.callbacks[id] = true
		return ok(true)
	case "sendInvoice":
		return s.sendInvoice(c)
	case "answerPreCheckoutQuery":
		return s.answerPreCheckout(c)
	default:
		return fail(404, "Not Found: method not found")
	}
}

// Invoice is an invoice the bot sent, as the server checked it.
type Invoice struct {
	Chat          int64
	MessageID     int
	Title         string
	Description   string
	Payload       string
	Currency      string
	ProviderToken string
	Prices        []tgbotapi.LabeledPrice
	Total         int // the sum of Prices, what the user pays
}

// sendInvoice checks an invoice as Telegram does: title 1–32 and
// description 1–255 characters, payload 1–128 bytes, a currency, priced
// lines; Telegram Stars (XTR) without a provider token and with exactly one
// price, other currencies with one.
func (s *Server) sendInvoice(c Call) (int, map[string]any) {
	chat, ok2 := s.chatParam(c)
	if !ok2 {
		return fail(400, "Bad Request: chat not found")
	}
	inv := Invoice{
		Chat: chat, Title: c.Param("title"), Description: c.Param("description"), Payload: c.Param("payload"),
		Currency: c.Param("currency"), ProviderToken: c.Param("provider_token"),
	}
	if err := c.Decode("prices", &inv.Prices); err != nil || len(inv.Prices) == 0 {
		return fail(400, "Bad Request: PRICES_INVALID")
	}
	for _, p := range inv.Prices {
		if p.Label == "" {
			return fail(400, "Bad Request: PRICE_LABEL_INVALID")
		}
		inv.Total += p.Amount
	}
	title, desc := utf8.RuneCountInString(inv.Title), utf8.RuneCountInString(inv.Description)
	switch {
	case title < 1 || title > 32:
		return fail(400, "Bad Request: TITLE_INVALID")
	case desc < 1 || desc > 255:
		return fail(400, "Bad Request: DESCRIPTION_INVALID")
	case len(inv.Payload) < 1 || len(inv.Payload) > 128:
		return fail(400, "Bad Request: INVOICE_PAYLOAD_INVALID")
	case len(inv.Currency) != 3:
		return fail(400, "Bad Request: CURRENCY_INVALID")
	case inv.Currency == "XTR" && (inv.ProviderToken != "" || len(inv.Prices) != 1):
		return fail(400, "Bad Request: STARS_INVOICE_INVALID")
	case inv.Currency != "XTR" && inv.ProviderToken == "":
		return fail(400, "Bad Request: PAYMENT_PROVIDER_INVALID")
	case inv.Total <= 0, inv.Currency == "XTR" && inv.Total > MaxStarsInvoice:
		return fail(400, "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID")
	}
	cs := s.chat(chat)
	m := &message{chat: chat, fromBot: true, date: time.Now().Unix(), text: inv.Title, invoice: true}
	s.add(cs, m)
	inv.MessageID = m.id
	s.invoices = append(s.invoices, inv)
	return ok(s.apiMessage(m))
}

// CheckoutAnswer is the bot's answer to a pre-checkout query.
type CheckoutAnswer struct {
	Answered     bool
	OK           bool
	ErrorMessage string
	After        time.Duration // from the query's issue to the answer
	issued       time.Time
}

// answerPreCheckout accepts one answer per query issued by PreCheckout,
// with an error message when it refuses.
func (s *Server) answerPreCheckout(c Call) (int, map[string]any) {
	a := s.checkouts[c.Param("pre_checkout_query_id")]
	if a == nil || a.Answered {
		return fail(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
	}
	okParam, err := strconv.ParseBool(c.Param("ok"))
	if err != nil {
		return fail(400, "Bad Request: parameter \"ok\" is required")
	}
	if !okParam && strings.TrimSpace(c.Param("error_message")) == "" {
		return fail(400, "Bad Request: ERROR_MESSAGE_EMPTY")
	}
	a.Answered, a.OK, a.ErrorMessage, a.After = true, okParam, c.Param("error_message"), time.Since(a.issued)
	return ok(true)
}

// Invoices returns the invoices sent so far, oldest first.
func (s *Server) Invoices() []Invoice {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.invoices)
}

// CheckoutAnswer returns the answer to a pre-checkout query.
func (s *Server) CheckoutAnswer(id string) CheckoutAnswer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.checkouts[id]; a != nil {
		return *a
	}
	return CheckoutAnswer{}
}

func validSecret(s string) bool {
	if len(s) > 256 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func (s *Server) chatParam(c Call) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("chat_id"), 10, 64)
	return id, err == nil && id != 0
}

// chat returns the state of a chat, creating it: positive ids are private
// chats, negative ones groups, unless a builder said otherwise.
func (s *Server) chat(id int64) *chatState {
	cs := s.chats[id]
	if cs == nil {
		kind := "private"
		if id < 0 {
			kind = "group"
		}
		cs = &chatState{kind: kind, messages: make(map[int]*message)}
		s.chats[id] = cs
	}
	return cs
}

func (s *Server) add(cs *chatState, m *message) {
	cs.lastID++
	m.id = cs.lastID
	cs.messages[m.id] = m
	cs.order = append(cs.order, m.id)
}

// target finds the message an edit or delete names; status is non-zero with
// an error answer when the chat is unknown.
func (s *Server) target(c Call) (*chatState, *message, int, map[string]any) {
	chat, ok2 := s.chatParam(c)
	if !ok2 {
		st, body := fail(400, "Bad Request: chat not found")
		return nil, nil, st, body
	}
	cs := s.chats[chat]
	if cs == nil {
		st, body := fail(400, "Bad Request: chat not found")
		return nil, nil, st, body
	}
	return cs, cs.messages[int(c.Int("message_id"))], 0, nil
}

// markup reads reply_markup: an inline keyboard for the message, or a reply
// keyboard or its removal for the chat.
func (s *Server) markup(c Call, cs *chatState, allowReply bool) (*tgbotapi.InlineKeyboardMarkup, func(), error) {
	v := c.Param("reply_markup")
	if v == "" {
		return nil, func() {}, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v), &fields); err != nil {
		return nil, nil, errors.New("can't parse reply keyboard markup JSON object")
	}
	switch {
	case fields["inline_keyboard"] != nil:
		var kb tgbotapi.InlineKeyboardMarkup
		if err := json.Unmarshal([]byte(v), &kb); err != nil {
			return nil, nil, errors.New("can't parse inline keyboard button: Field \"text\" must be of type String")
		}
		for _, row := range kb.InlineKeyboard {
			for _, b := range row {
				if b.Text == "" {
					return nil, nil, errors.New("text buttons are unallowed in the inline keyboard")
				}
				if b.CallbackData != nil && (len(*b.CallbackData) == 0 || len(*b.CallbackData) > MaxCallbackLen) {
					return nil, nil, errors.New("BUTTON_DATA_INVALID")
				}
				if b.CallbackData == nil && b.URL == nil && !b.Pay {
					return nil, nil, errors.New("can't parse inline keyboard button: InlineKeyboardButton must have exactly one of the optional fields")
				}
			}
		}
		return &kb, func() {}, nil
	case !allowReply:
		return nil, nil, errors.New("inline keyboard expected")
	case fields["keyboard"] != nil:
		var kb tgbotapi.ReplyKeyboardMarkup
		if err := json.Unmarshal([]byte(v), &kb); err != nil || len(kb.Keyboard) == 0 {
			return nil, nil, errors.New("can't parse reply keyboard markup JSON object")
		}
		if cs.kind != "private" {
			for _, row := range kb.Keyboard {
				for _, b := range row {
					if b.RequestContact || b.RequestLocation {
						return nil, nil, errors.New("contact and location requests are allowed only in private chats")
					}
				}
			}
		}
		return nil, func() { cs.keyboard = &kb }, nil
	case fields["remove_keyboard"] != nil:
		return nil, func() { cs.keyboard = nil }, nil
	case fields["force_reply"] != nil:
		return nil, func() {}, nil
	}
	return nil, nil, errors.New("can't find field \"inline_keyboard\"")
}

func (s *Server) sendMessage(c Call) (int, map[string]any) {
	chat, ok2 := s.chatParam(c)
	if !ok2 {
		return fail(400, "Bad Request: chat not found")
	}
	text, err := parseText(c.Param("text"), c.Param("parse_mode"))
	if err != nil {
		return fail(400, "Bad Request: "+err.Error())
	}
	switch n := utf16Len(strings.TrimSpace(text)); {
	case n == 0:
		return fail(400, "Bad Request: message text is empty")
	case n > MaxTextLen:
		return fail(400, "Bad Request: message is too long")
	}
	cs := s.chat(chat)
	kb, apply, err := s.markup(c, cs, true)
	if err != nil {
		return fail(400, "Bad Request: "+err.Error())
	}
	apply()
	m := &message{chat: chat, fromBot: true, date: time.Now().Unix(), text: text, markup: kb}
	s.add(cs, m)
	return ok(s.apiMessage(m))
}

func (s *Server) sendPhoto(c Call) (int, map[string]any) {
	chat, ok2 := s.chatParam(c)
	if !ok2 {
		return fail(400, "Bad Request: chat not found")
	}
	photo := c.Param("photo")
	if _, uploaded := c.Files["photo"]; !uploaded {
		u, err := url.Parse(photo)
		isURL := err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
		if !isURL && !strings.HasPrefix(photo, "photo-") {
			return fail(400, "Bad Request: wrong file identifier/HTTP URL specified")
		}
	}
	caption, err := parseText(c.Param("caption"), c.Param("parse_mode"))
	if err != nil {
		return fail(400, "Bad Request: "+err.Error())
	}
	if utf16Len(caption) > MaxCaptionLen {
		return fail(400, "Bad Request: message caption is too long")
	}
	cs := s.chat(chat)
	kb, apply, err := s.markup(c, cs, true)
	if err != nil {
		return fail(400, "Bad Request: "+err.Error())
	}
	apply()
	s.photos++
	m := &message{chat: chat, fromBot: true, date: time.Now().Unix(), caption: caption, photo: fmt.Sprintf("photo-%d", s.photos), markup: kb}
	if strings.HasPrefix(photo, "photo-") {
		m.photo = photo
	}
	s.add(cs, m)
	return ok(s.apiMessage(m))
}

func (s *Server) editMessageText(c Call) (int, map[string]any) {
	cs, m, status, body := s.target(c)
	if status != 0 {
		return status, body
	}
	if m == nil || !m.fromBot {
		return fail(400, "Bad Request: message to edit not found")
	}
	if m.photo != "" || m.invoice {
		return fail(400, "Bad Request: there is no text in the message to edit")
	}
	text, err := parseText(c.Param("text"), c.Param("parse_mode"))
	if err != nil {
		return fail(400, "Bad Request: "+err.Error())
	}
	switch n := utf16Len(strings.TrimSpace(text)); {
	case n == 0:
		return fail(400, "Bad Request: message text is empty")
	case n > MaxTextLen:
		return fail(400, "Bad Request: MESSAGE_TOO_LONG")
	}
	kb, _, err := s.markup(c, cs, false)
	if err != nil {
		return fail(400, "Bad Request: "+err.Error())
	}
	if text == m.text && sameMarkup(kb, m.markup) {
		return fail(400, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
	}
	m.text, m.markup = text, kb
	return ok(s.apiMessage(m))
}

func (s *Server) editMessageCaption(c Call) (int, map[string]any) {
	cs, m, status, body := s.target(c)
	if status != 0 {
		return status, body
	}
	if m == nil || !m.fromBot {
		return fail(400, "Bad Request: message to edit not found")
	}
	if m.photo == "" {
		return fail(400, "Bad Request: there is no caption in the message to edit")
	}
	caption, err := parseText(c.Param("caption"), c.Param("parse_mode"))
	if err != nil {
		return fail(400, "Bad Request: "+err.Error())
	}
	if utf16Len(caption) > MaxCaptionLen {
		return fail(400, "Bad Request: message caption is too long")
	}
	kb, _, err := s.markup(c, cs, false)
	if err != nil {
		return fail(400, "Bad Request: "+err.Error())
	}
	if caption == m.caption && sameMarkup(kb, m.markup) {
		return fail(400, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
	}
	m.caption, m.markup = caption, kb
	return ok(s.apiMessage(m))
}

func (s *Server) editMessageReplyMarkup(c Call) (int, map[string]any) {
	cs, m, status, body := s.target(c)
	if status != 0 {
		return status, body
	}
	if m == nil || !m.fromBot {
		return fail(400, "Bad Request: message to edit not found")
	}
	kb, _, err := s.markup(c, cs, false)
	if err != nil {
		return fail(400, "Bad Request: "+err.Error())
	}
	if sameMarkup(kb, m.markup) {
		return fail(400, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
	}
	m.markup = kb
	return ok(s.apiMessage(m))
}

func sameMarkup(a, b *tgbotapi.InlineKeyboardMarkup) bool {
	if a == nil || len(a.InlineKeyboard) == 0 {
		return b == nil || len(b.InlineKeyboard) == 0
	}
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// apiMessage renders a kept message as the Bot API returns it.
func (s *Server) apiMessage(m *message) tgbotapi.Message {
	cs := s.chats[m.chat]
	out := tgbotapi.Message{
		MessageID: m.id,
		Date:      int(m.date),
		Chat:      &tgbotapi.Chat{ID: m.chat, Type: cs.kind},
		Text:      m.text,
		Caption:   m.caption,
	}
	if cs.kind == "private" {
		out.Chat.FirstName = userName(m.chat)
	} else {
		out.Chat.Title = "Test group"
	}
	if m.fromBot {
		out.From = &tgbotapi.User{ID: BotID, IsBot: true, FirstName: BotName, UserName: BotUsername}
	}
	if m.photo != "" {
		out.Photo = []tgbotapi.PhotoSize{
			{FileID: m.photo + "-s", FileUniqueID: m.photo + "s", Width: 90, Height: 90, FileSize: 1200},
			{FileID: m.photo, FileUniqueID: m.photo + "m", Width: 800, Height: 800, FileSize: 48000},
		}
		out.Text = ""
	}
	if m.invoice {
		out.Text = ""
		out.Invoice = &tgbotapi.Invoice{Title: m.text}
	}
	if m.markup != nil && len(m.markup.InlineKeyboard) > 0 {
		kb := *m.markup
		out.ReplyMarkup = &kb
	}
	return out
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// Package slackfake is a fake Slack for tests.
//
// Server is a fake Web API built on slack-go's slacktest: a real HTTP server
// that answers the methods orderbot uses the way Slack does, keeps the
// messages the bot sent per channel and the views it opened or published,
// records every call, and can be told to fail. A slack-go client under test
// points at it with slack.New(token, slack.OptionAPIURL(s.URL())); any
// non-empty token is accepted and recorded.
//
// Sign, Post and the payload builders (EventCallback, BlockAction,
// ViewSubmission, SlashCommand, …) play Slack calling the bot's HTTP
// endpoints with signed requests. Server.Click, Server.ClickView,
// Server.Choose, Server.Submit and Server.Command build the same payloads
// from the server's state, with a response_url the server serves.
package slackfake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"

	"orderbot/bot/internal/calllog"
)

// The workspace and app the server pretends to be.
const (
	BotUserID         = "UBOT"          // the bot's user, as auth.test reports it
	BotID             = "BBOT"          // the bot's bot id
	TeamID            = "T1"            // the workspace
	TeamDomain        = "orderbot-test" // the workspace's domain
	AppID             = "A1"            // the app, as payloads name it
	VerificationToken = "fake-verification-token"
)

// Slack's limits, enforced as Slack enforces them. Lengths are in characters.
const (
	MaxTextLen       = 40000 // text of a message
	MaxMessageBlocks = 50    // blocks in a message
	MaxViewBlocks    = 100   // blocks in a modal or Home tab
	MaxSectionText   = 3000  // text of a section block
	MaxFieldText     = 2000  // each field of a section block
	MaxHeaderText    = 150   // text of a header block
	MaxButtonText    = 75    // text of a button
	MaxButtonValue   = 2000  // value of a button
	MaxActionID      = 255   // action_id of an element
	MaxBlockID       = 255   // block_id of a block
	MaxTitleText     = 24    // title, submit and close of a modal
	MaxMetadataLen   = 3000  // private_metadata of a view
	MaxSelectOptions = 100   // options of a static select menu
	MaxOptionText    = 75    // text of a select menu's option
	MaxOptionValue   = 150   // value of a select menu's option
)

// ResponseURLMethod is the Method of calls to a response_url the server
// issued.
const ResponseURLMethod = "response_url"

// Call is one request the server received.
type Call struct {
	Seq    int               // position in the order calls completed, from 1
	Method string            // e.g. "chat.postMessage", or ResponseURLMethod
	Token  string            // from the Authorization header or the token field
	Params map[string]string // form fields, or JSON fields with nested values as JSON text; never the token
	At     time.Time         // when the request arrived
	Status int               // HTTP status answered; 0 when the call hung
	Fault  bool              // answered by an injected fault
}

// Param returns a parameter, "" when absent.
func (c Call) Param(name string) string { return c.Params[name] }

// Decode unmarshals a JSON-valued parameter (blocks, view) into v.
func (c Call) Decode(name string, v any) error {
	s, ok := c.Params[name]
	if !ok {
		return fmt.Errorf("slackfake: %s has no parameter %q", c.Method, name)
	}
	return json.Unmarshal([]byte(s), v)
}

// Fault is an injected failure: an HTTP status, with Slack's error code when
// the status is 200, a Retry-After for 429, or a call that hangs.
type Fault struct {
	Status     int    // HTTP status
	Error      string // the error of an {"ok":false} answer
	RetryAfter int    // seconds, for 429
	Hang       bool
}

// RateLimited is Slack's 429 with a Retry-After header; slack-go returns it
// as *slack.RateLimitedError.
func RateLimited(retryAfterSeconds int) Fault {
	return Fault{Status: http.StatusTooManyRequests, Error: "ratelimited", RetryAfter: retryAfterSeconds}
}

// ServerError is a 500 with an HTML body; slack-go returns it as
// slack.StatusCodeError.
func ServerError() Fault { return Fault{Status: http.StatusInternalServerError} }

// SlackError is an {"ok":false,"error":code} answer with status 200; slack-go
// returns it as slack.SlackErrorResponse.
func SlackError(code string) Fault { return Fault{Status: http.StatusOK, Error: code} }

// Hang makes a call block until the client cancels it or the server closes.
func Hang() Fault { return Fault{Hang: true} }

// Message is a message as its channel shows it now.
type Message struct {
	Channel  string
	Ts       string
	ThreadTs string
	User     string          // the author: BotUserID for the bot's messages
	To       string          // the only user who sees an ephemeral message, "" otherwise
	Text     string          // as sent, without formatting applied
	Blocks   json.RawMessage // as last sent, nil when none
	Edited   string          // ts of the last edit, "" when never edited
}

type channelState struct {
	messages   []*Message // oldest first
	ephemerals []Message
}

// view is a modal or Home tab as views.* return it.
type view struct {
	id     string
	kind   string // modal or home
	hash   string
	fields map[string]json.RawMessage
}

// hook is a response_url the server issued for an interaction.
type hook struct {
	channel, ts, user string
	uses              int
}

// Server is a fake Slack Web API. It is safe for concurrent use.
type Server struct {
	api     *slacktest.Server
	closing chan struct{}
	once    sync.Once

	calls  *calllog.Log[Call] // recorded while mu is held, so Seq follows the state changes
	faults calllog.Faults[Fault]

	mu       sync.Mutex
	clock    int64 // microseconds of the latest ts issued
	channels map[string]*channelState
	opened   map[string]bool // conversations opened
	users    map[string]slack.User
	removed  map[string]bool
	views    map[string]*view
	homes    map[string]string // user → Home view id
	seq      int               // for view ids, hashes and trigger ids
	hooks    map[string]*hook
}

// NewServer starts a server that is closed when t ends.
func NewServer(t testing.TB) *Server {
	s := &Server{
		calls:    calllog.New("slackfake", func(c *Call, seq int) { c.Seq = seq }),
		closing:  make(chan struct{}),
		clock:    1700000000 * 1000000,
		channels: make(map[string]*channelState),
		opened:   make(map[string]bool),
		users:    make(map[string]slack.User),
		removed:  make(map[string]bool),
		views:    make(map[string]*view),
		homes:    make(map[string]string),
		hooks:    make(map[string]*hook),
	}
	// Binders run before slacktest registers its built-ins, and the first
	// registration of a pattern wins.
	s.api = slacktest.NewTestServer(func(c slacktest.Customize) {
		for _, m := range routedMethods() {
			c.Handle("/"+m, s.serveMethod)
		}
		c.Handle("/hooks/", s.serveHook)
		c.Handle("/", s.serveMethod)
	})
	s.api.Start()
	if t != nil {
		t.Cleanup(s.Close)
	}
	return s
}

// URL is the API URL, ending in "/", for slack.OptionAPIURL.
func (s *Server) URL() string { return s.api.GetAPIURL() }

// Close releases hanging calls and stops the server.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closing)
		s.api.Stop()
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

// Messages returns the messages of a channel as they are now, oldest first.
// A user id names the user's DM with the bot, as in chat.postMessage.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.channels[resolveChannel(channel)]
	if cs == nil {
		return nil
	}
	out := make([]Message, 0, len(cs.messages))
	for _, m := range cs.messages {
		out = append(out, cloneMessage(m))
	}
	return out
}

// Message returns one message of a channel as it is now.
func (s *Server) Message(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.message(resolveChannel(channel), ts); m != nil {
		return cloneMessage(m), true
	}
	return Message{}, false
}

// Ephemerals returns the ephemeral messages posted in a channel, oldest
// first.
func (s *Server) Ephemerals(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cs := s.channels[resolveChannel(channel)]; cs != nil {
		return slices.Clone(cs.ephemerals)
	}
	return nil
}

// AddMessage records a message a user wrote in a channel, as if typed in
// Slack, and returns its ts. The bot can't update or delete it.
func (s *Server) AddMessage(channel, user, text string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := resolveChannel(channel)
	m := &Message{Channel: ch, Ts: s.nextTs(), User: user, Text: text}
	s.channel(ch).messages = append(s.channel(ch).messages, m)
	return m.Ts
}

// HomeView returns the Home tab published for a user, as views.publish
// returned it.
func (s *Server) HomeView(user string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.homes[user]; ok {
		return s.views[id].json(), true
	}
	return nil, false
}

// View returns a view by id as views.* returned it last.
func (s *Server) View(id string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.views[id]; v != nil {
		return v.json(), true
	}
	return nil, false
}

// ModalIDs returns the ids of the modals opened so far (views.open and
// views.push), oldest first.
func (s *Server) ModalIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, v := range s.views {
		if v.kind != "home" {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids) // ids grow with the sequence
	return ids
}

// SetUser makes users.info and users.lookupByEmail answer u for u.ID.
// Without it, any user id ("U…" or "W…") has a user derived from the id:
// real name "User <id>", email "<id in lower case>@example.com".
func (s *Server) SetUser(u slack.User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
	delete(s.removed, u.ID)
}

// RemoveUser makes users.info answer user_not_found for id.
func (s *Server) RemoveUser(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.users, id)
	s.removed[id] = true
}

// routedMethods returns the Web API methods routed to the recording handler:
// those the server models, and the REST ones slacktest would otherwise
// answer unrecorded.
func routedMethods() []string {
	return []string{
		"auth.test",
		"chat.postMessage", "chat.update", "chat.delete", "chat.postEphemeral",
		"conversations.open", "users.info", "users.lookupByEmail",
		"views.open", "views.update", "views.push", "views.publish",
		// slacktest built-ins: recorded and answered unknown_method.
		"conversations.info", "conversations.create", "conversations.setTopic",
		"conversations.setPurpose", "conversations.rename", "conversations.invite",
		"conversations.inviteShared", "bots.info", "reactions.add", "apps.connections.open",
	}
}

// serveMethod answers "/<method>".
func (s *Server) serveMethod(w http.ResponseWriter, r *http.Request) {
	call := Call{Method: strings.TrimPrefix(r.URL.Path, "/"), At: time.Now()}
	var parseErr string
	call.Token, call.Params, parseErr = readRequest(r)
	s.serve(w, r, call, func() (int, map[string]any) {
		switch {
		case parseErr != "":
			return fail(parseErr)
		case call.Token == "":
			return fail("not_authed")
		}
		return s.handle(call)
	})
}

// serveHook answers a response_url the server issued.
func (s *Server) serveHook(w http.ResponseWriter, r *http.Request) {
	call := Call{Method: ResponseURLMethod, At: time.Now()}
	var parseErr string
	call.Token, call.Params, parseErr = readRequest(r)
	id := strings.TrimPrefix(r.URL.Path, "/hooks/")
	s.serve(w, r, call, func() (int, map[string]any) {
		if parseErr != "" {
			return fail(parseErr)
		}
		return s.respond(id, call)
	})
}

// serve applies a pending fault or answers with handle, under s.mu, and
// records the call.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, call Call, handle func() (int, map[string]any)) {
	s.mu.Lock()
	if f, faulted := s.faults.Next(call.Method); faulted {
		call.Fault = true
		if f.Hang {
			s.calls.Record(call)
			s.mu.Unlock()
			select {
			case <-r.Context().Done():
			case <-s.closing:
			}
			panic(http.ErrAbortHandler) // the client sees the connection drop
		}
		call.Status = f.Status
		s.calls.Record(call)
		s.mu.Unlock()
		writeFault(w, f)
		return
	}
	status, body := handle()
	call.Status = status
	s.calls.Record(call)
	s.mu.Unlock()
	writeJSON(w, status, body)
}

func writeFault(w http.ResponseWriter, f Fault) {
	switch {
	case f.Status == http.StatusTooManyRequests:
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
		writeJSON(w, f.Status, map[string]any{"ok": false, "error": f.Error})
	case f.Status == http.StatusOK:
		writeJSON(w, f.Status, map[string]any{"ok": false, "error": f.Error})
	default:
		// Slack answers 5xx with an HTML page.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(f.Status)
		fmt.Fprintf(w, "<html><body>%d %s</body></html>\n", f.Status, http.StatusText(f.Status))
	}
}

func writeJSON(w http.ResponseWriter, status int, body map[string]any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func ok(fields map[string]any) (int, map[string]any) {
	fields["ok"] = true
	return http.StatusOK, fields
}

func fail(code string, messages ...string) (int, map[string]any) {
	body := map[string]any{"ok": false, "error": code}
	if len(messages) > 0 {
		body["response_metadata"] = map[string]any{"messages": messages}
	}
	return http.StatusOK, body
}

// readRequest reads the token and the parameters of a form, multipart or
// JSON request; errCode is Slack's error for a body it can't read.
func readRequest(r *http.Request) (token string, params map[string]string, errCode string) {
	params = map[string]string{}
	token, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var fields map[string]json.RawMessage
		if err := json.NewDecoder(io.LimitReader(r.Body, 10<<20)).Decode(&fields); err != nil {
			return token, params, "invalid_json"
		}
		for k, v := range fields {
			var str string
			if json.Unmarshal(v, &str) == nil {
				params[k] = str
			} else {
				params[k] = string(v)
			}
		}
		// Slack takes the token of a JSON request only from the header.
		delete(params, "token")
		return token, params, ""
	case "multipart/form-data":
		if err := r.ParseMultipartForm(32 << 20); err != nil {
			return token, params, "invalid_form_data"
		}
	default:
		if err := r.ParseForm(); err != nil {
			return token, params, "invalid_form_data"
		}
	}
	for k, v := range r.Form {
		params[k] = v[0]
	}
	if t, found := params["token"]; found {
		if token == "" {
			token = t
		}
		delete(params, "token")
	}
	return token, params, ""
}

// handle answers a Web API method, under s.mu.
func (s *Server) handle(c Call) (int, map[string]any) {
	switch c.Method {
	case "auth.test":
		return ok(map[string]any{
			"url": "https://" + TeamDomain + ".slack.com/", "team": TeamID, "user": "orderbot",
			"team_id": TeamID, "user_id": BotUserID, "bot_id": BotID, "is_enterprise_install": false,
		})
	case "chat.postMessage":
		return s.postMessage(c)
	case "chat.update":
		return s.update(c)
	case "chat.delete":
		return s.deleteMessage(c)
	case "chat.postEphemeral":
		return s.postEphemeral(c)
	case "conversations.open":
		return s.openConversation(c)
	case "users.info":
		u, found := s.user(c.Param("user"))
		if !found {
			return fail("user_not_found")
		}
		return ok(map[string]any{"user": u})
	case "users.lookupByEmail":
		return s.lookupByEmail(c.Param("email"))
	case "views.open", "views.push":
		return s.openView(c)
	case "views.update":
		return s.updateView(c)
	case "views.publish":
		return s.publishView(c)
	default:
		return fail("unknown_method")
	}
}

// resolveChannel turns a user id into the id of the user's DM with the bot,
// as Slack does for chat.postMessage and conversations.open.
func resolveChannel(ch string) string {
	if isUserID(ch) {
		return "D" + ch
	}
	return ch
}

func isUserID(id string) bool {
	return len(id) > 1 && (id[0] == 'U' || id[0] == 'W')
}

func (s *Server) channel(id string) *channelState {
	cs := s.channels[id]
	if cs == nil {
		cs = &channelState{}
		s.channels[id] = cs
	}
	return cs
}

func (s *Server) message(channel, ts string) *Message {
	if cs := s.channels[channel]; cs != nil {
		for _, m := range cs.messages {
			if m.Ts == ts {
				return m
			}
		}
	}
	return nil
}

// nextTs issues the next message timestamp: "1700000000.000100",
// "1700000000.000200", …, unique across channels.
func (s *Server) nextTs() string {
	s.clock += 100
	return fmt.Sprintf("%d.%06d", s.clock/1000000, s.clock%1000000)
}

func cloneMessage(m *Message) Message {
	out := *m
	out.Blocks = slices.Clone(m.Blocks)
	return out
}

// content reads and checks the text and blocks of a message; given reports
// which of them the call set. code is Slack's error when they are invalid.
func content(p map[string]string) (text string, blocks json.RawMessage, given [2]bool, code string, messages []string) {
	text, given[0] = p["text"]
	raw, hasBlocks := p["blocks"]
	if hasBlocks && strings.TrimSpace(raw) != "" && strings.TrimSpace(raw) != "null" {
		given[1] = true
		list, berr := checkBlocks([]byte(raw), MaxMessageBlocks, "/blocks")
		if berr != nil {
			return "", nil, given, "invalid_blocks", []string{berr.Error()}
		}
		if len(list) > 0 {
			blocks = json.RawMessage(raw)
		}
	}
	if utf8.RuneCountInString(text) > MaxTextLen {
		return "", nil, given, "msg_too_long", nil
	}
	return text, blocks, given, "", nil
}

func hasAttachments(p map[string]string) bool {
	a := strings.TrimSpace(p["attachments"])
	return a != "" && a != "null" && a != "[]"
}

func (s *Server) postMessage(c Call) (int, map[string]any) {
	ch := resolveChannel(c.Param("channel"))
	if ch == "" {
		return fail("channel_not_found")
	}
	text, blocks, _, code, msgs := content(c.Params)
	if code != "" {
		return fail(code, msgs...)
	}
	if strings.TrimSpace(text) == "" && blocks == nil && !hasAttachments(c.Params) {
		return fail("no_text")
	}
	m := &Message{Channel: ch, Ts: s.nextTs(), ThreadTs: c.Param("thread_ts"), User: BotUserID, Text: text, Blocks: blocks}
	s.channel(ch).messages = append(s.channel(ch).messages, m)
	return ok(map[string]any{"channel": ch, "ts": m.Ts, "message": apiMessage(m)})
}

func (s *Server) update(c Call) (int, map[string]any) {
	ch := resolveChannel(c.Param("channel"))
	if ch == "" {
		return fail("channel_not_found")
	}
	m := s.message(ch, c.Param("ts"))
	if m == nil {
		return fail("message_not_found")
	}
	if m.User != BotUserID {
		return fail("cant_update_message")
	}
	text, blocks, given, code, msgs := content(c.Params)
	if code != "" {
		return fail(code, msgs...)
	}
	if !given[0] && !given[1] && !hasAttachments(c.Params) {
		return fail("no_text")
	}
	// A field left out keeps its value; blocks given as [] are removed.
	next := *m
	if given[0] {
		next.Text = text
	}
	if _, set := c.Params["blocks"]; set {
		next.Blocks = blocks
	}
	if strings.TrimSpace(next.Text) == "" && next.Blocks == nil && !hasAttachments(c.Params) {
		return fail("no_text")
	}
	next.Edited = s.nextTs()
	*m = next
	return ok(map[string]any{"channel": ch, "ts": m.Ts, "text": m.Text, "message": apiMessage(m)})
}

func (s *Server) deleteMessage(c Call) (int, map[string]any) {
	ch := resolveChannel(c.Param("channel"))
	m := s.message(ch, c.Param("ts"))
	if m == nil {
		return fail("message_not_found")
	}
	if m.User != BotUserID {
		return fail("cant_delete_message")
	}
	s.remove(m)
	return ok(map[string]any{"channel": ch, "ts": m.Ts})
}

func (s *Server) remove(m *Message) {
	cs := s.channels[m.Channel]
	cs.messages = slices.DeleteFunc(cs.messages, func(x *Message) bool { return x == m })
}

func (s *Server) postEphemeral(c Call) (int, map[string]any) {
	ch := resolveChannel(c.Param("channel"))
	if ch == "" {
		return fail("channel_not_found")
	}
	user := c.Param("user")
	if _, found := s.user(user); !found {
		return fail("user_not_found")
	}
	text, blocks, _, code, msgs := content(c.Params)
	if code != "" {
		return fail(code, msgs...)
	}
	if strings.TrimSpace(text) == "" && blocks == nil && !hasAttachments(c.Params) {
		return fail("no_text")
	}
	m := Message{Channel: ch, Ts: s.nextTs(), ThreadTs: c.Param("thread_ts"), User: BotUserID, To: user, Text: text, Blocks: blocks}
	s.channel(ch).ephemerals = append(s.channel(ch).ephemerals, m)
	return ok(map[string]any{"message_ts": m.Ts})
}

func (s *Server) openConversation(c Call) (int, map[string]any) {
	var users []string
	for u := range strings.SplitSeq(c.Param("users"), ",") {
		if u = strings.TrimSpace(u); u != "" {
			users = append(users, u)
		}
	}
	if len(users) == 0 {
		if ch := c.Param("channel"); ch != "" && s.opened[ch] {
			return ok(map[string]any{"channel": map[string]any{"id": ch}, "no_op": true, "already_open": true})
		}
		if c.Param("channel") != "" {
			return fail("channel_not_found")
		}
		return fail("users_list_not_supplied")
	}
	for _, u := range users {
		if _, found := s.user(u); !found {
			return fail("user_not_found")
		}
	}
	info := map[string]any{"created": 1700000000, "is_open": true, "is_org_shared": false}
	var id string
	if len(users) == 1 {
		id = "D" + users[0]
		info["is_im"], info["user"] = true, users[0]
	} else {
		sorted := slices.Sorted(slices.Values(users))
		id = "G" + strings.Join(sorted, "")
		info["is_mpim"], info["is_group"] = true, true
	}
	info["id"] = id
	already := s.opened[id]
	s.opened[id] = true
	return ok(map[string]any{"channel": info, "no_op": already, "already_open": already})
}

// user returns the user with an id: set by SetUser or derived from the id.
func (s *Server) user(id string) (slack.User, bool) {
	if u, found := s.users[id]; found {
		return u, true
	}
	if !isUserID(id) || s.removed[id] {
		return slack.User{}, false
	}
	name := strings.ToLower(id)
	real := "User " + id
	if id == BotUserID {
		real = "Order Bot"
	}
	return slack.User{
		ID: id, TeamID: TeamID, Name: name, RealName: real, IsBot: id == BotUserID,
		TZ: "UTC", TZLabel: "Coordinated Universal Time", Locale: "en-US",
		Profile: slack.UserProfile{
			RealName: real, RealNameNormalized: real, DisplayName: name, DisplayNameNormalized: name,
			Email: name + "@example.com", Team: TeamID,
		},
	}, true
}

func (s *Server) lookupByEmail(email string) (int, map[string]any) {
	for _, id := range slices.Sorted(maps.Keys(s.users)) {
		if u := s.users[id]; strings.EqualFold(u.Profile.Email, email) {
			return ok(map[string]any{"user": u})
		}
	}
	if local, found := strings.CutSuffix(strings.ToLower(email), "@example.com"); found {
		id := strings.ToUpper(local)
		if _, set := s.users[id]; !set {
			if u, found := s.user(id); found {
				return ok(map[string]any{"user": u})
			}
		}
	}
	return fail("users_not_found")
}

// apiMessage renders a message as chat.postMessage and chat.update return it.
func apiMessage(m *Message) map[string]any {
	out := map[string]any{"type": "message", "user": m.User, "text": m.Text, "ts": m.Ts, "team": TeamID}
	if m.User == BotUserID {
		out["bot_id"], out["app_id"] = BotID, AppID
	}
	if m.Blocks != nil {
		out["blocks"] = m.Blocks
	}
	if m.ThreadTs != "" {
		out["thread_ts"] = m.ThreadTs
	}
	if m.Edited != "" {
		out["edited"] = map[string]any{"user": m.User, "ts": m.Edited}
	}
	return out
}

func (v *view) json() json.RawMessage {
	b, _ := json.Marshal(v.fields)
	return b
}

func (s *Server) nextSeq() int {
	s.seq++
	return s.seq
}

func (s *Server) hash() string {
	return fmt.Sprintf("1700000000.%08d", s.nextSeq())
}

// newView stores a view checked by checkView and gives it an id.
func (s *Server) newView(kind string, fields map[string]json.RawMessage) *view {
	v := &view{id: fmt.Sprintf("V%08d", s.nextSeq()), kind: kind}
	s.views[v.id] = v
	s.setView(v, fields)
	return v
}

// setView replaces a view's content, keeping its id, and gives it a new hash.
func (s *Server) setView(v *view, fields map[string]json.RawMessage) {
	v.hash = s.hash()
	set := func(k string, val any) {
		b, _ := json.Marshal(val)
		fields[k] = b
	}
	for _, k := range []string{"private_metadata", "callback_id", "external_id"} {
		if _, found := fields[k]; !found {
			set(k, "")
		}
	}
	for _, k := range []string{"clear_on_close", "notify_on_close"} {
		if _, found := fields[k]; !found {
			set(k, false)
		}
	}
	set("id", v.id)
	set("team_id", TeamID)
	set("hash", v.hash)
	set("root_view_id", v.id)
	set("previous_view_id", nil)
	set("app_id", AppID)
	set("app_installed_team_id", TeamID)
	set("bot_id", BotID)
	set("state", map[string]any{"values": map[string]any{}})
	v.fields = fields
}

func (s *Server) openView(c Call) (int, map[string]any) {
	if c.Param("trigger_id") == "" {
		return fail("invalid_trigger_id")
	}
	fields, msg := checkView(c.Param("view"), "modal")
	if msg != "" {
		return fail("invalid_arguments", msg)
	}
	v := s.newView("modal", fields)
	return ok(map[string]any{"view": v.json()})
}

func (s *Server) updateView(c Call) (int, map[string]any) {
	var v *view
	if id := c.Param("view_id"); id != "" {
		v = s.views[id]
	} else if ext := c.Param("external_id"); ext != "" {
		for _, id := range slices.Sorted(maps.Keys(s.views)) {
			var got string
			_ = json.Unmarshal(s.views[id].fields["external_id"], &got)
			if got == ext {
				v = s.views[id]
				break
			}
		}
	} else {
		return fail("invalid_arguments", "[ERROR] missing required field: view_id [json-pointer:/view_id]")
	}
	if v == nil {
		return fail("not_found")
	}
	if h := c.Param("hash"); h != "" && h != v.hash {
		return fail("hash_conflict")
	}
	fields, msg := checkView(c.Param("view"), v.kind)
	if msg != "" {
		return fail("invalid_arguments", msg)
	}
	s.setView(v, fields)
	return ok(map[string]any{"view": v.json()})
}

func (s *Server) publishView(c Call) (int, map[string]any) {
	user := c.Param("user_id")
	if user == "" {
		return fail("invalid_arguments", "[ERROR] missing required field: user_id [json-pointer:/user_id]")
	}
	if _, found := s.user(user); !found {
		return fail("user_not_found")
	}
	fields, msg := checkView(c.Param("view"), "home")
	if msg != "" {
		return fail("invalid_arguments", msg)
	}
	id, found := s.homes[user]
	if !found {
		v := s.newView("home", fields)
		s.homes[user] = v.id
		return ok(map[string]any{"view": v.json()})
	}
	v := s.views[id]
	if h := c.Param("hash"); h != "" && h != v.hash {
		return fail("hash_conflict")
	}
	s.setView(v, fields)
	return ok(map[string]any{"view": v.json()})
}

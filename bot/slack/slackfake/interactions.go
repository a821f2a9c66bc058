package slackfake

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxResponseURLUses is how often Slack lets an app use one response_url.
const MaxResponseURLUses = 5

// unboundResponseURL is the response_url of payloads built without a server:
// a local port nothing listens on, so a bot that uses it fails fast instead
// of reaching Slack.
const unboundResponseURL = "http://127.0.0.1:1/hooks/unbound"

// EventCallback is the body of an Events API request carrying event (a map
// such as DMMessage returns, or a struct that marshals like a slackevents
// inner event). Its token is VerificationToken.
func EventCallback(eventID, teamID string, event any) []byte {
	return mustJSON(map[string]any{
		"token":      VerificationToken,
		"team_id":    teamID,
		"api_app_id": AppID,
		"event":      event,
		"type":       "event_callback",
		"event_id":   eventID,
		"event_time": time.Now().Unix(),
		"authorizations": []map[string]any{{
			"enterprise_id": nil, "team_id": teamID, "user_id": BotUserID,
			"is_bot": true, "is_enterprise_install": false,
		}},
		"is_ext_shared_channel": false,
		"event_context":         "4-fake-" + eventID,
	})
}

// URLVerification is the body of the request Slack sends when the Events
// API request URL is set; the bot must answer with the challenge.
func URLVerification(challenge string) []byte {
	return mustJSON(map[string]any{"token": VerificationToken, "challenge": challenge, "type": "url_verification"})
}

// DMMessage is a message event for a user writing text in their DM with the
// bot, for EventCallback.
func DMMessage(user, channel, text string, ts string) map[string]any {
	return map[string]any{
		"type":          "message",
		"client_msg_id": "msg-" + ts,
		"user":          user,
		"text":          text,
		"ts":            ts,
		"event_ts":      ts,
		"team":          TeamID,
		"channel":       channel,
		"channel_type":  "im",
	}
}

// AppHomeOpened is an app_home_opened event for a user opening the bot's
// Home tab, for EventCallback.
func AppHomeOpened(user string) map[string]any {
	return map[string]any{
		"type":     "app_home_opened",
		"user":     user,
		"channel":  "D" + user,
		"tab":      "home",
		"event_ts": actionTs(),
	}
}

// BlockAction is the form body of a block_actions request: user clicked the
// button actionID carrying value on the message messageTs in channel. Its
// block_id is "b-"+actionID and its response_url points nowhere; see
// Server.Click for a payload built from the message the bot sent.
func BlockAction(user, channel, messageTs, actionID, value, triggerID string) []byte {
	msg := map[string]any{"type": "message", "user": BotUserID, "bot_id": BotID, "app_id": AppID, "ts": messageTs, "text": "", "team": TeamID}
	action := map[string]any{"action_id": actionID, "block_id": "b-" + actionID, "value": value, "type": "button", "action_ts": actionTs()}
	return formPayload(blockActions(user, triggerID, messageContainer(channel, messageTs), action, msg, nil, unboundResponseURL))
}

// ViewSubmission is the form body of a view_submission request: user
// submitted the modal viewID with the input values by block_id and action_id,
// e.g. {"qty": {"qty_input": InputValue("2")}}. Its private_metadata is
// empty; see Server.Submit for a payload built from the view the bot opened.
func ViewSubmission(user string, callbackID string, viewID string, values map[string]map[string]any) []byte {
	v := map[string]any{
		"id": viewID, "team_id": TeamID, "type": "modal", "callback_id": callbackID, "private_metadata": "",
		"blocks": []any{}, "hash": "1700000000.00000000", "title": map[string]any{"type": "plain_text", "text": "Order"},
		"root_view_id": viewID, "previous_view_id": nil, "app_id": AppID, "app_installed_team_id": TeamID,
		"bot_id": BotID, "external_id": "", "clear_on_close": false, "notify_on_close": false,
	}
	return formPayload(viewSubmission(user, "1700000000.1."+viewID, v, values))
}

// InputValue is the state of a plain text input holding v, for
// ViewSubmission and Server.Submit.
func InputValue(v string) map[string]any {
	return map[string]any{"type": "plain_text_input", "value": v}
}

// SelectedOption is the state of a static select with the option of value v
// chosen, for ViewSubmission and Server.Submit.
func SelectedOption(v string) map[string]any {
	return map[string]any{
		"type":            "static_select",
		"selected_option": map[string]any{"text": map[string]any{"type": "plain_text", "text": v}, "value": v},
	}
}

// SlashCommand is the form body of a slash command request: user typed
// command (e.g. "/order") with text in channel. Its response_url points
// nowhere; see Server.Command for one the server serves.
func SlashCommand(user, channel, command, text, triggerID string) []byte {
	return []byte(slashCommand(user, channel, command, text, triggerID, unboundResponseURL))
}

// Click is the form body of a block_actions request for user clicking the
// button actionID on a message in channel, built from the message as the
// bot last sent it: the button's block_id, value and text, the whole
// message, and a response_url the server serves.
func (s *Server) Click(user, channel, messageTs, actionID, triggerID string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := resolveChannel(channel)
	m := s.message(ch, messageTs)
	if m == nil {
		return nil, fmt.Errorf("slackfake: no message %s in %s", messageTs, ch)
	}
	action, err := buttonAction(m.Blocks, actionID)
	if err != nil {
		return nil, fmt.Errorf("slackfake: message %s in %s: %w", messageTs, ch, err)
	}
	hookURL := s.newHook(ch, m.Ts, user)
	return formPayload(blockActions(user, triggerID, messageContainer(ch, m.Ts), action, apiMessage(m), nil, hookURL)), nil
}

// ClickView is the form body of a block_actions request for user clicking
// the button actionID in a modal or Home tab, built from the view as the bot
// last sent it.
func (s *Server) ClickView(user, viewID, actionID, triggerID string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.views[viewID]
	if v == nil {
		return nil, fmt.Errorf("slackfake: no view %s", viewID)
	}
	action, err := buttonAction(v.fields["blocks"], actionID)
	if err != nil {
		return nil, fmt.Errorf("slackfake: view %s: %w", viewID, err)
	}
	container := map[string]any{"type": "view", "view_id": v.id}
	return formPayload(blockActions(user, triggerID, container, action, nil, v.json(), "")), nil
}

// Submit is the form body of a view_submission request for user submitting
// the modal viewID with the input values by block_id and action_id, built
// from the view as the bot last sent it (callback_id, private_metadata,
// hash). Each block_id must name an input block of the view and each
// action_id its element.
func (s *Server) Submit(user, viewID string, values map[string]map[string]any) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.modalWith(viewID, values)
	if err != nil {
		return nil, err
	}
	fields := maps.Clone(v.fields)
	trigger := fmt.Sprintf("1700000000.%d.%s", s.nextSeq(), viewID)
	return formPayload(viewSubmission(user, trigger, fields, values)), nil
}

// Choose is the form body of a block_actions request for user choosing the
// option value in the select actionID of the modal viewID (in an input
// block with dispatch_action, or an actions block), built from the view as
// the bot last sent it (id, hash, callback_id, private_metadata). The
// payload's state is values, as for Submit, with the choice. A static
// select's option must be one of its options and keeps its text; an
// external select's option has the value as its text.
func (s *Server) Choose(user, viewID, actionID, value string, values map[string]map[string]any) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.modalWith(viewID, values)
	if err != nil {
		return nil, err
	}
	blockID, el, found := findElement(v.fields["blocks"], actionID)
	if !found {
		return nil, fmt.Errorf("slackfake: modal %s has no element with action_id %q", viewID, actionID)
	}
	chosen, err := selectOption(el, value)
	if err != nil {
		return nil, fmt.Errorf("slackfake: modal %s: element %q: %w", viewID, actionID, err)
	}
	typ := el.str("type")
	state := maps.Clone(values)
	if state == nil {
		state = map[string]map[string]any{}
	}
	state[blockID] = map[string]any{actionID: map[string]any{"type": typ, "selected_option": chosen}}
	action := map[string]any{"action_id": actionID, "block_id": blockID, "type": typ, "selected_option": chosen, "action_ts": actionTs()}
	trigger := fmt.Sprintf("1700000000.%d.%s", s.nextSeq(), viewID)
	container := map[string]any{"type": "view", "view_id": v.id}
	return formPayload(blockActions(user, trigger, container, action, nil, mustJSON(withState(maps.Clone(v.fields), state)), "")), nil
}

// modalWith returns the modal viewID after checking that each block_id of
// values names an input block of it and each action_id that block's
// element. Under s.mu.
func (s *Server) modalWith(viewID string, values map[string]map[string]any) (*view, error) {
	v := s.views[viewID]
	if v == nil || v.kind != "modal" {
		return nil, fmt.Errorf("slackfake: no modal %s", viewID)
	}
	inputs := inputBlocks(v.fields["blocks"])
	for _, blockID := range slices.Sorted(maps.Keys(values)) {
		actionID, found := inputs[blockID]
		if !found {
			return nil, fmt.Errorf("slackfake: modal %s has no input block %q", viewID, blockID)
		}
		for a := range values[blockID] {
			if a != actionID {
				return nil, fmt.Errorf("slackfake: input block %q of modal %s has action_id %q, not %q", blockID, viewID, actionID, a)
			}
		}
	}
	return v, nil
}

// selectOption is the option of value in a select menu, as a payload
// carries it.
func selectOption(el object, value string) (map[string]any, error) {
	switch el.str("type") {
	case "external_select":
		return map[string]any{"text": map[string]any{"type": "plain_text", "text": value}, "value": value}, nil
	case "static_select":
		for _, o := range selectOptions(el) {
			if o.str("value") == value {
				var out map[string]any
				_ = json.Unmarshal(mustJSON(o), &out)
				return out, nil
			}
		}
		return nil, fmt.Errorf("no option with value %q", value)
	}
	return nil, fmt.Errorf("a %s is not a select menu", el.str("type"))
}

// Command is the form body of a slash command request like SlashCommand,
// with a response_url the server serves.
func (s *Server) Command(user, channel, command, text, triggerID string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return []byte(slashCommand(user, channel, command, text, triggerID, s.newHook(resolveChannel(channel), "", user)))
}

// newHook issues a response_url for an interaction in channel, on the
// message ts when there is one.
func (s *Server) newHook(channel, ts, user string) string {
	id := strconv.Itoa(s.nextSeq())
	s.hooks[id] = &hook{channel: channel, ts: ts, user: user}
	return s.URL() + "hooks/" + id
}

// respond answers a response_url as Slack does: it deletes or replaces the
// original message, posts in the channel (response_type "in_channel") or
// posts an ephemeral message to the user. Under s.mu.
func (s *Server) respond(id string, c Call) (int, map[string]any) {
	h := s.hooks[id]
	if h == nil {
		return http.StatusNotFound, map[string]any{"ok": false, "error": "expired_url"}
	}
	if h.uses++; h.uses > MaxResponseURLUses {
		return http.StatusNotFound, map[string]any{"ok": false, "error": "used_url"}
	}
	if c.Param("delete_original") == "true" {
		m := s.message(h.channel, h.ts)
		if m == nil {
			return fail("message_not_found")
		}
		s.remove(m)
		return ok(map[string]any{})
	}
	text, blocks, _, code, msgs := content(c.Params)
	if code != "" {
		return fail(code, msgs...)
	}
	if strings.TrimSpace(text) == "" && blocks == nil && !hasAttachments(c.Params) {
		return fail("no_text")
	}
	switch {
	case c.Param("replace_original") == "true":
		m := s.message(h.channel, h.ts)
		if m == nil {
			return fail("message_not_found")
		}
		m.Text, m.Blocks, m.Edited = text, blocks, s.nextTs()
	case c.Param("response_type") == "in_channel":
		m := &Message{Channel: h.channel, Ts: s.nextTs(), ThreadTs: c.Param("thread_ts"), User: BotUserID, Text: text, Blocks: blocks}
		s.channel(h.channel).messages = append(s.channel(h.channel).messages, m)
	default:
		m := Message{Channel: h.channel, Ts: s.nextTs(), User: BotUserID, To: h.user, Text: text, Blocks: blocks}
		s.channel(h.channel).ephemerals = append(s.channel(h.channel).ephemerals, m)
	}
	return ok(map[string]any{})
}

// buttonAction is the action of clicking a button in a list of blocks.
func buttonAction(blocks []byte, actionID string) (map[string]any, error) {
	blockID, el, found := findElement(blocks, actionID)
	if !found {
		return nil, fmt.Errorf("no element with action_id %q", actionID)
	}
	if el.str("type") != "button" {
		return nil, fmt.Errorf("element %q is a %s, not a button", actionID, el.str("type"))
	}
	action := map[string]any{"action_id": actionID, "block_id": blockID, "type": "button", "action_ts": actionTs()}
	if el["text"] != nil {
		action["text"] = el["text"]
	}
	if el["value"] != nil {
		action["value"] = el["value"]
	}
	return action, nil
}

func messageContainer(channel, ts string) map[string]any {
	return map[string]any{"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": false}
}

func payloadUser(user string) map[string]any {
	name := strings.ToLower(user)
	return map[string]any{"id": user, "username": name, "name": name, "team_id": TeamID}
}

// blockActions is a block_actions payload: on a message when msg is set, in
// a view when view is.
func blockActions(user, triggerID string, container, action, msg map[string]any, view json.RawMessage, responseURL string) map[string]any {
	p := map[string]any{
		"type":                  "block_actions",
		"token":                 VerificationToken,
		"api_app_id":            AppID,
		"team":                  map[string]any{"id": TeamID, "domain": TeamDomain},
		"enterprise":            nil,
		"is_enterprise_install": false,
		"user":                  payloadUser(user),
		"trigger_id":            triggerID,
		"container":             container,
		"actions":               []any{action},
		"state":                 map[string]any{"values": map[string]any{}},
	}
	if msg != nil {
		ch := container["channel_id"].(string)
		p["channel"] = map[string]any{"id": ch, "name": channelName(ch)}
		p["message"] = msg
		p["response_url"] = responseURL
	}
	if view != nil {
		p["view"] = view
	}
	return p
}

// viewSubmission is a view_submission payload for a view with the values
// set as its state.
func viewSubmission(user, triggerID string, view any, values map[string]map[string]any) map[string]any {
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(mustJSON(view), &fields)
	return map[string]any{
		"type":                  "view_submission",
		"token":                 VerificationToken,
		"api_app_id":            AppID,
		"team":                  map[string]any{"id": TeamID, "domain": TeamDomain},
		"enterprise":            nil,
		"is_enterprise_install": false,
		"user":                  payloadUser(user),
		"trigger_id":            triggerID,
		"view":                  withState(fields, values),
		"response_urls":         []any{},
	}
}

// withState is a view's fields with state set to the input values by
// block_id and action_id.
func withState(fields map[string]json.RawMessage, values map[string]map[string]any) map[string]json.RawMessage {
	if values == nil {
		values = map[string]map[string]any{}
	}
	fields["state"] = mustJSON(map[string]any{"values": values})
	return fields
}

func slashCommand(user, channel, command, text, triggerID, responseURL string) string {
	v := map[string]string{
		"token": VerificationToken, "team_id": TeamID, "team_domain": TeamDomain,
		"channel_id": channel, "channel_name": channelName(channel),
		"user_id": user, "user_name": strings.ToLower(user),
		"command": command, "text": text, "api_app_id": AppID, "is_enterprise_install": "false",
		"response_url": responseURL, "trigger_id": triggerID,
	}
	// Slack's field order, which url.Values.Encode would sort away.
	order := []string{
		"token", "team_id", "team_domain", "channel_id", "channel_name", "user_id", "user_name",
		"command", "text", "api_app_id", "is_enterprise_install", "response_url", "trigger_id",
	}
	parts := make([]string, 0, len(order))
	for _, k := range order {
		parts = append(parts, k+"="+url.QueryEscape(v[k]))
	}
	return strings.Join(parts, "&")
}

// channelName is how Slack names a conversation in payloads.
func channelName(id string) string {
	switch {
	case strings.HasPrefix(id, "D"):
		return "directmessage"
	case strings.HasPrefix(id, "G"):
		return "privategroup"
	}
	return strings.ToLower(id)
}

// formPayload is the form body "payload=<json>" of an interactivity request.
func formPayload(p map[string]any) []byte {
	return []byte("payload=" + url.QueryEscape(string(mustJSON(p))))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("slackfake: %v", err))
	}
	return b
}

// actionTs is an action or event timestamp for now.
func actionTs() string {
	now := time.Now()
	return fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000)
}

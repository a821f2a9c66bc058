package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"orderbot/bot/slack/slackfake"
	"orderbot/dialog"
)

const slackSecret = "test-signing-secret"

// slackEnv is an environment for serve against a fake Slack.
func slackEnv(t *testing.T, fake *slackfake.Server, config ...string) []string {
	t.Helper()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "slack:\n  per_channel_interval: 10ms\n  global_rate: 1000\n"+strings.Join(config, ""))
	return []string{
		"ORDERBOT_DATABASE_URL=sqlite:" + filepath.Join(dir, "orderbot.db"),
		"ORDERBOT_CONFIG=" + cfg,
		"ORDERBOT_HTTP_ADDR=127.0.0.1:0",
		"SLACK_BOT_TOKEN=xoxb-test-token",
		"SLACK_SIGNING_SECRET=" + slackSecret,
		"SLACK_API_URL=" + fake.URL(),
		"PATH=" + os.Getenv("PATH"),
	}
}

// slackUser is one employee writing to the app in a direct message.
type slackUser struct {
	t       *testing.T
	fake    *slackfake.Server
	base    string // serve's base URL
	user    string
	channel string
	events  int
}

// post sends a signed request to serve and returns the status.
func (u *slackUser) post(path, contentType string, body []byte, headers ...http.Header) int {
	u.t.Helper()
	code, _, err := slackfake.Post(u.base+path, slackSecret, time.Now(), contentType, body, headers...)
	if err != nil {
		u.t.Fatal(err)
	}
	return code
}

// waitText waits for the bot to post or update a message in the user's
// channel containing want, after call seq.
func (u *slackUser) waitText(seq int, want string) slackfake.Call {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := u.fake.WaitFor(ctx, func(c slackfake.Call) bool {
		return c.Seq > seq && (c.Method == "chat.postMessage" || c.Method == "chat.update" || c.Method == "chat.postEphemeral") &&
			(c.Param("channel") == u.channel || c.Param("channel") == u.user) && // a user id posts to their DM
			strings.Contains(c.Param("text")+c.Param("blocks"), want)
	})
	if err != nil {
		var got []string
		for _, m := range u.fake.Messages(u.channel) {
			got = append(got, m.Text)
		}
		u.t.Fatalf("no message containing %q: %v\nmessages:\n%s", want, err, strings.Join(got, "\n---\n"))
	}
	return c
}

// say writes text to the app and waits for the answer containing want.
func (u *slackUser) say(text, want string) {
	u.t.Helper()
	u.events++
	seq := u.fake.LastSeq()
	ts := fmt.Sprintf("1700001000.%06d", u.events)
	body := slackfake.EventCallback(fmt.Sprintf("Ev%s%d", u.user, u.events), slackfake.TeamID, slackfake.DMMessage(u.user, u.channel, text, ts))
	if code := u.post("/slack/events", slackfake.ContentTypeJSON, body); code != http.StatusOK {
		u.t.Fatalf("event answered %d", code)
	}
	u.waitText(seq, want)
}

// press clicks the newest button labelled label and waits for want.
func (u *slackUser) press(label, want string) slackfake.Call {
	u.t.Helper()
	msgs := u.fake.Messages(u.channel)
	for i := len(msgs) - 1; i >= 0; i-- {
		id := buttonID(msgs[i].Blocks, label)
		if id == "" {
			continue
		}
		body, err := u.fake.Click(u.user, u.channel, msgs[i].Ts, id, "trigger-"+id)
		if err != nil {
			u.t.Fatal(err)
		}
		seq := u.fake.LastSeq()
		if code := u.post("/slack/interactivity", slackfake.ContentTypeForm, body); code != http.StatusOK {
			u.t.Fatalf("click answered %d", code)
		}
		return u.waitText(seq, want)
	}
	u.t.Fatalf("no button %q in the channel", label)
	return slackfake.Call{}
}

// buttonID finds the action_id of the button whose label contains label.
func buttonID(blocks json.RawMessage, label string) string {
	var bs []struct {
		Type     string `json:"type"`
		Elements []struct {
			ActionID string `json:"action_id"`
			Text     struct {
				Text string `json:"text"`
			} `json:"text"`
		} `json:"elements"`
	}
	json.Unmarshal(blocks, &bs)
	for _, b := range bs {
		for _, e := range b.Elements {
			if b.Type == "actions" && strings.Contains(e.Text.Text, label) {
				return e.ActionID
			}
		}
	}
	return ""
}

// An employee orders by direct message: buttons update their message in
// place, typed answers go through, and a status change reaches the
// conversation with the order's card updated. Unsigned, badly signed and
// replayed requests are refused with nothing processed, and Slack's retry
// of an event is processed once.
func TestServeSlackDM(t *testing.T) {
	fake := slackfake.NewServer(t)
	env := slackEnv(t, fake)
	s := startServe(t, env)
	u := &slackUser{t: t, fake: fake, base: "http://" + s.addr, user: "U42", channel: "DU42"}

	// URL verification.
	code, body, err := slackfake.Post(u.base+"/slack/events", slackSecret, time.Now(), slackfake.ContentTypeJSON, slackfake.URLVerification("chal-123"))
	if err != nil || code != http.StatusOK || string(body) != "chal-123" {
		t.Fatalf("url_verification answered %d %q, %v", code, body, err)
	}

	// Refused requests.
	start := slackfake.EventCallback("EvStart", slackfake.TeamID, slackfake.DMMessage(u.user, u.channel, "/start", "1700000999.000001"))
	for name, h := range map[string]http.Header{
		"unsigned":     {slackfake.HeaderSignature: {""}, slackfake.HeaderTimestamp: {""}},
		"badly signed": {slackfake.HeaderSignature: {"v0=" + strings.Repeat("ab", 32)}},
	} {
		if code := u.post("/slack/events", slackfake.ContentTypeJSON, start, h); code != http.StatusUnauthorized {
			t.Fatalf("%s request answered %d", name, code)
		}
	}
	if code, _, err := slackfake.Post(u.base+"/slack/events", slackSecret, time.Now().Add(-6*time.Minute), slackfake.ContentTypeJSON, start); err != nil || code != http.StatusUnauthorized {
		t.Fatalf("replayed request answered %d, %v", code, err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(fake.Calls("chat.postMessage")); n != 0 {
		t.Fatalf("%d messages posted for refused requests", n)
	}

	// The first event, then Slack's retry of it: answered once.
	seq := fake.LastSeq()
	if code := u.post("/slack/events", slackfake.ContentTypeJSON, start); code != http.StatusOK {
		t.Fatalf("event answered %d", code)
	}
	u.waitText(seq, "Main menu")
	if code := u.post("/slack/events", slackfake.ContentTypeJSON, start, http.Header{slackfake.HeaderRetryNum: {"1"}, slackfake.HeaderRetryReason: {"http_timeout"}}); code != http.StatusOK {
		t.Fatalf("retry answered %d", code)
	}

	u.press("Browse", "Choose a category")
	upd := u.press("Office", "Choose a product")
	if upd.Method != "chat.update" {
		t.Fatalf("a pressed button's step came as %s, want chat.update", upd.Method)
	}
	u.press("Gel pen", "Choose an option")
	u.press("Black", "How many")
	u.say("2", "Your cart")
	u.press("Check out", "Where should we deliver")
	u.say("12F, 88 Century Avenue, desk 12-041", "Who will receive")
	u.say("Li Lei", "phone number")
	u.say("+86 138 0013 8000", "How would you like to pay")
	u.press("Company account", "cost centre")
	u.say("R&D-42", "What is it for")
	u.say("Pens for the new team", "Please check your order")
	u.press("Confirm order", "is placed")

	welcomes := 0
	for _, c := range fake.Calls("chat.postMessage") {
		if strings.Contains(c.Param("text")+c.Param("blocks"), "Welcome") {
			welcomes++
		}
	}
	if welcomes != 1 {
		t.Fatalf("the retried event was answered %d times", welcomes)
	}

	number := ""
	for _, m := range fake.Messages(u.channel) {
		if i := strings.Index(m.Text, "OB-"); i >= 0 && strings.Contains(m.Text, "is placed") {
			number = m.Text[i : i+10]
		}
	}
	if number == "" {
		t.Fatal("no order number in the conversation")
	}
	seq = fake.LastSeq()
	if _, errOut, code := runCmd(t, env, "orders", "advance", number, "shipped", "--tracking", "SF9"); code != 0 {
		t.Fatal(errOut)
	}
	u.waitText(seq, "has shipped, tracking SF9")
	cards := 0
	for _, m := range fake.Messages(u.channel) {
		if strings.HasPrefix(m.Text, dialog.CardMark) {
			cards++
			if !strings.Contains(m.Text, "SF9") {
				t.Fatalf("card not updated: %q", m.Text)
			}
		}
	}
	if cards != 1 {
		t.Fatalf("%d order cards", cards)
	}
}

// A company order over the configured amount waits for the requester's
// manager: an operator cannot move it on, another user cannot decide it,
// the manager approves with the button on the request sent to them, the
// requester is told, and a second decision changes nothing.
func TestServeSlackApproval(t *testing.T) {
	fake := slackfake.NewServer(t)
	env := slackEnv(t, fake, `approvals:
  remind_after: 1s
  remind_every: 1h
  managers: {U42: U9}
  rules:
    - name: Over 10 CNY
      total_over: "10.00 CNY"
      approvers: [manager]
fulfilment:
  chat: C0DESK
  staff: [U5]
`)
	s := startServe(t, env)
	u := &slackUser{t: t, fake: fake, base: "http://" + s.addr, user: "U42", channel: "DU42"}
	number := u.orderForApproval(env)
	if _, errOut, code := runCmd(t, env, "orders", "advance", number, "pending_shipment"); code == 0 || !strings.Contains(errOut, "approvers") {
		t.Fatalf("an operator moved an order waiting for approval: %d %s", code, errOut)
	}
	if _, errOut, code := runCmd(t, env, "orders", "approve", number, "--as", "U77"); code == 0 || !strings.Contains(errOut, "not an approver") {
		t.Fatalf("a stranger approved: %d %s", code, errOut)
	}
	// The manager got the request in their direct message with the app, and
	// approves it there; the requester is told, the request shows who
	// decided.
	manager := &slackUser{t: t, fake: fake, base: u.base, user: "U9", channel: "DU9"}
	manager.waitText(0, "Approval request from Li Lei (U42)")
	manager.openHome("Waiting for your approval: 1", "Approval request from Li Lei (U42)", "Approve")
	manager.waitText(0, "Reminder: order "+number+" has been waiting for your approval")
	seq := fake.LastSeq()
	manager.press("Approve", "You approved order "+number)
	u.waitText(seq, "was approved")
	manager.waitText(seq, "Approved by U9")
	if _, errOut, code := runCmd(t, env, "orders", "reject", number, "--as", "U9", "--note", "too late"); code == 0 || !strings.Contains(errOut, "U9") {
		t.Fatalf("a second decision: %d %s", code, errOut)
	}

	// The approved order reaches the fulfilment desk; only its staff move it
	// on, and the requester hears of each step.
	desk := &slackUser{t: t, fake: fake, base: u.base, user: "U5", channel: "C0DESK"}
	desk.waitText(0, "Order to fulfil, from Li Lei (U42)")

	// The requester raises the quantity: the order goes back to the
	// manager, and the desk is told to wait; approved again, it returns.
	seq = fake.LastSeq()
	u.say(number, "Change items")
	u.press("Change items", "being changed")
	u.press("✏ 1.", "New quantity")
	u.say("8", "quantity is now 8")
	u.press("Review changes", "Please check the new items")
	u.press("Confirm changes", "waits for approval")
	manager.waitText(seq, "needs your approval again")
	desk.waitText(seq, "do not ship it yet")
	seq = fake.LastSeq()
	manager.press("Approve", "You approved order "+number)
	u.waitText(seq, "was approved")
	desk.waitText(seq, "Mark shipped")
	stranger := &slackUser{t: t, fake: fake, base: u.base, user: "U77", channel: "C0DESK"}
	stranger.press("Mark shipped", "Only the fulfilment staff")
	seq = fake.LastSeq()
	desk.press("Mark shipped", "is now shipped")
	u.waitText(seq, "has shipped")
	desk.waitText(seq, "Mark delivered")
	seq = fake.LastSeq()
	desk.press("Mark delivered", "is now completed")
	u.waitText(seq, "is completed")
	out, errOut, code := runCmd(t, env, "orders", "show", number)
	if code != 0 || !strings.Contains(out, "staff:U5") || !strings.Contains(out, "completed") {
		t.Fatalf("order after fulfilment (%s):\n%s", errOut, out)
	}
	u.openHome("Your recent orders", number)
}

// openHome plays the user opening the app's Home tab and waits for the tab
// published with every one of want.
func (u *slackUser) openHome(want ...string) {
	u.t.Helper()
	u.events++
	seq := u.fake.LastSeq()
	ev := map[string]any{"type": "app_home_opened", "user": u.user, "channel": u.channel, "tab": "home", "event_ts": "1700002000.000001"}
	if code := u.post("/slack/events", slackfake.ContentTypeJSON, slackfake.EventCallback(fmt.Sprintf("EvHome%s%d", u.user, u.events), slackfake.TeamID, ev)); code != http.StatusOK {
		u.t.Fatalf("app_home_opened answered %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := u.fake.WaitFor(ctx, func(c slackfake.Call) bool {
		if c.Seq <= seq || c.Method != "views.publish" || c.Param("user_id") != u.user {
			return false
		}
		for _, w := range want {
			if !strings.Contains(c.Param("view"), w) {
				return false
			}
		}
		return true
	}); err != nil {
		u.t.Fatalf("no Home tab with %q: %v", want, err)
	}
}

// /order opens the form pre-filled from the command's text: the first
// product found, its variants listed; the product type-ahead searches the
// catalog; choosing a product updates the modal with its variants in
// stock; a form with mistakes (a variant of another product among them)
// gets them back field by field and places nothing; a good one closes and
// places the order, told in the direct message; submitting it again
// places nothing more.
func TestServeSlackOrderForm(t *testing.T) {
	fake := slackfake.NewServer(t)
	env := slackEnv(t, fake)
	s := startServe(t, env)
	u := &slackUser{t: t, fake: fake, base: "http://" + s.addr, user: "U42", channel: "DU42"}

	if code := u.post("/slack/commands", slackfake.ContentTypeForm, fake.Command(u.user, "C1", "/order", "3 gel pen", "trig-1")); code != http.StatusOK {
		t.Fatalf("/order answered %d", code)
	}
	open := u.waitCall("views.open")
	for _, want := range []string{"Order supplies", `"initial_value":"3"`, `"dispatch_action":true`, "Gel pen, 0.5 mm — ¥2.50", `"block_id":"variant.pen-gel"`, "Black — ¥2.50", "pen-gel-red"} {
		if v := open.Param("view"); !strings.Contains(v, want) {
			t.Fatalf("form opened without %s: %s", want, v)
		}
	}
	ids := fake.ModalIDs()
	viewID := ids[len(ids)-1]

	suggest := url.Values{"payload": {`{"type":"block_suggestion","action_id":"product","block_id":"product","value":"notebook","user":{"id":"U42"},"team":{"id":"T1"}}`}}
	code, body, err := slackfake.Post(u.base+"/slack/options", slackSecret, time.Now(), slackfake.ContentTypeForm, []byte(suggest.Encode()))
	if err != nil || code != http.StatusOK || !strings.Contains(string(body), "A5 hardcover notebook — ¥18.00") || strings.Contains(string(body), "Gel pen") {
		t.Fatalf("type-ahead answered %d %s, %v", code, body, err)
	}

	typed := map[string]map[string]any{
		"quantity": {"quantity": slackfake.InputValue("3")},
		"office":   {"office": slackfake.InputValue("HQ")},
	}
	choice, err := fake.Choose(u.user, viewID, "product", "notebook-a5", typed)
	if err != nil {
		t.Fatal(err)
	}
	if code := u.post("/slack/interactivity", slackfake.ContentTypeForm, choice); code != http.StatusOK {
		t.Fatalf("the product's choice answered %d", code)
	}
	update := u.waitCall("views.update")
	if v := update.Param("view"); update.Param("view_id") != viewID || update.Param("hash") == "" ||
		!strings.Contains(v, `"block_id":"variant.notebook-a5"`) || !strings.Contains(v, "Lined — ¥18.00") || !strings.Contains(v, "Dotted — ¥18.00") ||
		strings.Contains(v, "Blank") || strings.Contains(v, "variant.pen-gel") || !strings.Contains(v, `"initial_value":"HQ"`) {
		t.Fatalf("form updated as %s (view %s, hash %q)", v, update.Param("view_id"), update.Param("hash"))
	}

	values := func(variant, qty, phone string) map[string]map[string]any {
		return map[string]map[string]any{
			"product":             {"product": slackfake.SelectedOption("notebook-a5")},
			"variant.notebook-a5": {"variant": slackfake.SelectedOption(variant)},
			"quantity":            {"quantity": slackfake.InputValue(qty)},
			"office":              {"office": slackfake.InputValue("HQ")},
			"floor":               {"floor": slackfake.InputValue("12F")},
			"desk":                {"desk": slackfake.InputValue("12-041")},
			"name":                {"name": slackfake.InputValue("Li Lei")},
			"phone":               {"phone": slackfake.InputValue(phone)},
			"cost_centre":         {"cost_centre": slackfake.InputValue("R&D-42")},
			"reason":              {"reason": slackfake.InputValue("")},
		}
	}
	bad, err := fake.Submit(u.user, viewID, values("pen-gel-blk", "lots", "12"))
	if err != nil {
		t.Fatal(err)
	}
	code, body, err = slackfake.Post(u.base+"/slack/interactivity", slackSecret, time.Now(), slackfake.ContentTypeForm, bad)
	var answer struct {
		Action string            `json:"response_action"`
		Errors map[string]string `json:"errors"`
	}
	json.Unmarshal(body, &answer)
	if err != nil || code != http.StatusOK || answer.Action != "errors" || answer.Errors["quantity"] == "" || answer.Errors["phone"] == "" ||
		!strings.Contains(answer.Errors["variant.notebook-a5"], "option of this product") || len(answer.Errors) != 3 {
		t.Fatalf("a bad form answered %d %s, %v", code, body, err)
	}

	good, err := fake.Submit(u.user, viewID, values("notebook-a5-dot", "3", "+86 138 0013 8000"))
	if err != nil {
		t.Fatal(err)
	}
	seq := fake.LastSeq()
	for range 2 { // Slack's retry of the same submission
		code, body, err = slackfake.Post(u.base+"/slack/interactivity", slackSecret, time.Now(), slackfake.ContentTypeForm, good)
		if err != nil || code != http.StatusOK || len(strings.TrimSpace(string(body))) != 0 {
			t.Fatalf("a good form answered %d %q, %v", code, body, err)
		}
	}
	u.waitText(seq, "charged to cost centre R&D-42")
	out, errOut, code := runCmd(t, env, "orders", "list")
	if code != 0 || strings.Count(out, "OB-") != 1 {
		t.Fatalf("orders after the form (%s):\n%s", errOut, out)
	}
	i := strings.Index(out, "OB-")
	if out, _, _ := runCmd(t, env, "orders", "show", out[i:i+10]); !strings.Contains(out, "HQ, 12F, 12-041") || !strings.Contains(out, "R&D-42") || !strings.Contains(out, "notebook-a5-dot") {
		t.Fatalf("the form's order:\n%s", out)
	}
}

// waitCall waits for the next call of method.
func (u *slackUser) waitCall(method string) slackfake.Call {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := u.fake.WaitFor(ctx, slackfake.Method(method))
	if err != nil {
		u.t.Fatal(err)
	}
	return c
}

// orderForApproval places, in the conversation, a company order of ¥12.50
// that the test's rules send for approval, and returns its number.
func (u *slackUser) orderForApproval(env []string) string {
	u.t.Helper()
	u.say("/start", "Main menu")
	u.press("Browse", "Choose a category")
	u.press("Office", "Choose a product")
	u.press("Gel pen", "Choose an option")
	u.press("Black", "How many")
	u.say("5", "Your cart") // ¥12.50
	u.press("Check out", "Where should we deliver")
	u.say("12F, desk 12-041", "Who will receive")
	u.say("Li Lei", "phone number")
	u.say("+86 138 0013 8000", "How would you like to pay")
	u.press("Company account", "cost centre")
	u.say("R&D-42", "What is it for")
	u.press("Skip", "Please check your order")
	u.press("Confirm order", "waiting for approval")
	out, errOut, code := runCmd(u.t, env, "orders", "list", "--status", "pending_approval")
	if code != 0 {
		u.t.Fatal(errOut)
	}
	i := strings.Index(out, "OB-")
	if i < 0 {
		u.t.Fatalf("no order waiting for approval:\n%s", out)
	}
	return out[i : i+10]
}

// Reject asks the approver for the reason in a form; an empty one is sent
// back; the reason reaches the requester and the request shows the
// decision.
func TestServeSlackReject(t *testing.T) {
	fake := slackfake.NewServer(t)
	env := slackEnv(t, fake, `approvals:
  managers: {U42: U9}
  rules:
    - {name: Every order, approvers: [manager]}
`)
	s := startServe(t, env)
	u := &slackUser{t: t, fake: fake, base: "http://" + s.addr, user: "U42", channel: "DU42"}
	number := u.orderForApproval(env)
	manager := &slackUser{t: t, fake: fake, base: u.base, user: "U9", channel: "DU9"}
	manager.waitText(0, "Approval request from Li Lei (U42)")

	msgs := fake.Messages("DU9")
	var ts, id string
	for _, m := range msgs {
		if i := buttonID(m.Blocks, "Reject"); i != "" {
			ts, id = m.Ts, i
		}
	}
	click, err := fake.Click("U9", "DU9", ts, id, "trig-reject")
	if err != nil {
		t.Fatal(err)
	}
	if code := manager.post("/slack/interactivity", slackfake.ContentTypeForm, click); code != http.StatusOK {
		t.Fatalf("Reject answered %d", code)
	}
	if v := manager.waitCall("views.open").Param("view"); !strings.Contains(v, "Reject the order") {
		t.Fatalf("reject form %s", v)
	}
	ids := fake.ModalIDs()
	viewID := ids[len(ids)-1]
	empty, err := fake.Submit("U9", viewID, map[string]map[string]any{"reason": {"reason": slackfake.InputValue(" ")}})
	if err != nil {
		t.Fatal(err)
	}
	code, body, err := slackfake.Post(u.base+"/slack/interactivity", slackSecret, time.Now(), slackfake.ContentTypeForm, empty)
	if err != nil || code != http.StatusOK || !strings.Contains(string(body), `"response_action":"errors"`) {
		t.Fatalf("an empty reason answered %d %s, %v", code, body, err)
	}
	seq := fake.LastSeq()
	filled, err := fake.Submit("U9", viewID, map[string]map[string]any{"reason": {"reason": slackfake.InputValue("Not in this quarter's budget")}})
	if err != nil {
		t.Fatal(err)
	}
	if code := manager.post("/slack/interactivity", slackfake.ContentTypeForm, filled); code != http.StatusOK {
		t.Fatalf("the reason answered %d", code)
	}
	u.waitText(seq, "was not approved")
	u.waitText(seq, "Not in this quarter's budget")
	manager.waitText(seq, "Rejected by U9")
	out, errOut, code := runCmd(t, env, "orders", "show", number)
	if code != 0 || !strings.Contains(out, "rejected") {
		t.Fatalf("order after rejection (%s):\n%s", errOut, out)
	}
}

package slackfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"orderbot/bot/slack/slackfake"
)

const token = "xoxb-test-token"

func mustClient(t *testing.T, s *slackfake.Server) *slack.Client {
	t.Helper()
	return slack.New(token, slack.OptionAPIURL(s.URL()))
}

func mustCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func text(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

func md(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

func orderBlocks(status string) []slack.Block {
	return []slack.Block{
		slack.NewSectionBlock(md("*Order 42* "+status), nil, nil, slack.SectionBlockOptionBlockID("summary")),
		slack.NewActionBlock("order_actions",
			slack.NewButtonBlockElement("confirm", "order:42", text("Confirm")),
			slack.NewButtonBlockElement("cancel", "order:42:cancel", text("Cancel")),
		),
	}
}

func TestPostUpdateAndReadBack(t *testing.T) {
	s := slackfake.NewServer(t)
	api := mustClient(t, s)

	auth, err := api.AuthTest()
	if err != nil {
		t.Fatalf("AuthTest: %v", err)
	}
	if auth.UserID != slackfake.BotUserID || auth.BotID != slackfake.BotID || auth.TeamID != slackfake.TeamID || auth.Team != "T1" {
		t.Errorf("AuthTest = %+v, want user UBOT, bot BBOT, team T1", auth)
	}

	ch, ts, err := api.PostMessage("C1", slack.MsgOptionText("Order 42 received", false), slack.MsgOptionBlocks(orderBlocks("received")...))
	if err != nil {
		t.Fatalf("PostMessage: %v", err)
	}
	if ch != "C1" || ts != "1700000000.000100" {
		t.Errorf("PostMessage = %q, %q; want C1, 1700000000.000100", ch, ts)
	}
	_, ts2, err := api.PostMessage("C1", slack.MsgOptionText("second", false))
	if err != nil {
		t.Fatalf("second PostMessage: %v", err)
	}
	if ts2 <= ts {
		t.Errorf("second ts %q not after %q", ts2, ts)
	}

	_, _, updatedText, err := api.UpdateMessage("C1", ts, slack.MsgOptionText("Order 42 confirmed", false), slack.MsgOptionBlocks(orderBlocks("confirmed")...))
	if err != nil {
		t.Fatalf("UpdateMessage: %v", err)
	}
	if updatedText != "Order 42 confirmed" {
		t.Errorf("UpdateMessage text = %q", updatedText)
	}

	msgs := s.Messages("C1")
	if len(msgs) != 2 {
		t.Fatalf("Messages(C1) has %d messages, want 2", len(msgs))
	}
	m := msgs[0]
	if m.Ts != ts || m.Text != "Order 42 confirmed" || m.User != slackfake.BotUserID || m.Edited == "" {
		t.Errorf("first message = %+v", m)
	}
	var blocks slack.Blocks
	if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
		t.Fatalf("stored blocks don't decode: %v", err)
	}
	sec, isSection := blocks.BlockSet[0].(*slack.SectionBlock)
	if !isSection || sec.Text.Text != "*Order 42* confirmed" {
		t.Errorf("first block = %#v, want the updated section", blocks.BlockSet[0])
	}
	if got, found := s.Message("C1", ts2); !found || got.Text != "second" || got.Blocks != nil {
		t.Errorf("Message(C1, %s) = %+v, %v", ts2, got, found)
	}

	// Blocks given as [] are removed; text left out is kept.
	if _, _, _, err := api.UpdateMessage("C1", ts, slack.MsgOptionBlocks()); err != nil {
		t.Fatalf("UpdateMessage clearing blocks: %v", err)
	}
	if got, _ := s.Message("C1", ts); got.Blocks != nil || got.Text != "Order 42 confirmed" {
		t.Errorf("after clearing blocks: %+v", got)
	}

	post := s.Calls("chat.postMessage")
	if len(post) != 2 {
		t.Fatalf("%d chat.postMessage calls, want 2", len(post))
	}
	c := post[0]
	if c.Token != token || c.Param("channel") != "C1" || c.Param("text") != "Order 42 received" || c.Status != http.StatusOK || c.Fault {
		t.Errorf("first call = %+v", c)
	}
	if _, leaked := c.Params["token"]; leaked {
		t.Error("Params holds the token")
	}
	var sent []map[string]any
	if err := c.Decode("blocks", &sent); err != nil || len(sent) != 2 {
		t.Errorf("Decode(blocks) = %v, %v", sent, err)
	}
	if all := s.Calls(""); len(all) != 5 || all[0].Method != "auth.test" || all[4].Seq != 5 || s.LastSeq() != 5 {
		t.Errorf("Calls(\"\") = %d calls, LastSeq %d", len(all), s.LastSeq())
	}
}

func TestPostToUserGoesToTheirDM(t *testing.T) {
	s := slackfake.NewServer(t)
	api := mustClient(t, s)

	dm, _, already, err := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{"U42"}})
	if err != nil {
		t.Fatalf("OpenConversation: %v", err)
	}
	if dm.ID != "DU42" || !dm.IsIM || dm.User != "U42" || already {
		t.Errorf("OpenConversation = %+v, already %v", dm.Conversation, already)
	}
	if _, _, already, _ := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{"U42"}}); !already {
		t.Error("second OpenConversation not already_open")
	}
	ch, _, err := api.PostMessage("U42", slack.MsgOptionText("hello", false))
	if err != nil || ch != "DU42" {
		t.Fatalf("PostMessage(U42) = %q, %v; want DU42", ch, err)
	}
	if got := s.Messages("DU42"); len(got) != 1 || got[0].Text != "hello" {
		t.Errorf("Messages(DU42) = %+v", got)
	}
	if got := s.Messages("U42"); len(got) != 1 {
		t.Errorf("Messages(U42) = %+v, want the DM's", got)
	}
}

func TestEphemeral(t *testing.T) {
	s := slackfake.NewServer(t)
	api := mustClient(t, s)
	ts, err := api.PostEphemeral("C1", "U7", slack.MsgOptionText("only you", false))
	if err != nil || ts == "" {
		t.Fatalf("PostEphemeral = %q, %v", ts, err)
	}
	got := s.Ephemerals("C1")
	if len(got) != 1 || got[0].To != "U7" || got[0].Text != "only you" || got[0].Ts != ts {
		t.Errorf("Ephemerals(C1) = %+v", got)
	}
	if len(s.Messages("C1")) != 0 {
		t.Error("ephemeral message shows in Messages")
	}
	if _, err := api.PostEphemeral("C1", "", slack.MsgOptionText("x", false)); !isSlackError(err, "user_not_found") {
		t.Errorf("PostEphemeral without user: %v, want user_not_found", err)
	}
}

func isSlackError(err error, code string) bool {
	var se slack.SlackErrorResponse
	return errors.As(err, &se) && se.Err == code
}

func TestValidation(t *testing.T) {
	long := func(n int) string { return strings.Repeat("é", n) }
	button := func(actionID, value, label string) []slack.Block {
		return []slack.Block{slack.NewActionBlock("a", slack.NewButtonBlockElement(actionID, value, text(label)))}
	}
	many := make([]slack.Block, 51)
	for i := range many {
		many[i] = slack.NewDividerBlock()
	}
	// menu is a static select of n options labelled label, the first one
	// valued value, with the initial option given.
	menu := func(n int, label, value string, initial *slack.OptionBlockObject) []slack.Block {
		var opts []*slack.OptionBlockObject
		for i := range n {
			v := fmt.Sprint(i)
			if i == 0 {
				v = value
			}
			opts = append(opts, slack.NewOptionBlockObject(v, text(label), nil))
		}
		el := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, text("Choose"), "pick", opts...)
		el.InitialOption = initial
		return []slack.Block{slack.NewActionBlock("m", el)}
	}
	tests := []struct {
		name    string
		channel string
		opts    []slack.MsgOption
		want    string // error code, "" for success
	}{
		{"text", "C1", []slack.MsgOption{slack.MsgOptionText("hi", false)}, ""},
		{"no channel", "", []slack.MsgOption{slack.MsgOptionText("hi", false)}, "channel_not_found"},
		{"no text or blocks", "C1", nil, "no_text"},
		{"blank text", "C1", []slack.MsgOption{slack.MsgOptionText("  ", false)}, "no_text"},
		{"blocks only", "C1", []slack.MsgOption{slack.MsgOptionBlocks(orderBlocks("new")...)}, ""},
		{"text too long", "C1", []slack.MsgOption{slack.MsgOptionText(long(40001), false)}, "msg_too_long"},
		{"50 blocks", "C1", []slack.MsgOption{slack.MsgOptionBlocks(many[:50]...)}, ""},
		{"51 blocks", "C1", []slack.MsgOption{slack.MsgOptionBlocks(many...)}, "invalid_blocks"},
		{"section 3000", "C1", []slack.MsgOption{slack.MsgOptionBlocks(slack.NewSectionBlock(md(long(3000)), nil, nil))}, ""},
		{"section 3001", "C1", []slack.MsgOption{slack.MsgOptionBlocks(slack.NewSectionBlock(md(long(3001)), nil, nil))}, "invalid_blocks"},
		{"button text 75", "C1", []slack.MsgOption{slack.MsgOptionBlocks(button("a", "v", long(75))...)}, ""},
		{"button text 76", "C1", []slack.MsgOption{slack.MsgOptionBlocks(button("a", "v", long(76))...)}, "invalid_blocks"},
		{"action_id 256", "C1", []slack.MsgOption{slack.MsgOptionBlocks(button(long(256), "v", "ok")...)}, "invalid_blocks"},
		{"button value 2000", "C1", []slack.MsgOption{slack.MsgOptionBlocks(button("a", long(2000), "ok")...)}, ""},
		{"button value 2001", "C1", []slack.MsgOption{slack.MsgOptionBlocks(button("a", long(2001), "ok")...)}, "invalid_blocks"},
		{"menu of 100", "C1", []slack.MsgOption{slack.MsgOptionBlocks(menu(100, "ok", "v", nil)...)}, ""},
		{"menu of 101", "C1", []slack.MsgOption{slack.MsgOptionBlocks(menu(101, "ok", "v", nil)...)}, "invalid_blocks"},
		{"empty menu", "C1", []slack.MsgOption{slack.MsgOptionBlocks(menu(0, "ok", "v", nil)...)}, "invalid_blocks"},
		{"option text 75", "C1", []slack.MsgOption{slack.MsgOptionBlocks(menu(1, long(75), "v", nil)...)}, ""},
		{"option text 76", "C1", []slack.MsgOption{slack.MsgOptionBlocks(menu(1, long(76), "v", nil)...)}, "invalid_blocks"},
		{"option value 151", "C1", []slack.MsgOption{slack.MsgOptionBlocks(menu(1, "ok", long(151), nil)...)}, "invalid_blocks"},
		{"initial option offered", "C1", []slack.MsgOption{slack.MsgOptionBlocks(menu(2, "ok", "v", slack.NewOptionBlockObject("v", text("ok"), nil))...)}, ""},
		{"initial option not offered", "C1", []slack.MsgOption{slack.MsgOptionBlocks(menu(2, "ok", "v", slack.NewOptionBlockObject("w", text("ok"), nil))...)}, "invalid_blocks"},
		{"duplicate block_id", "C1", []slack.MsgOption{slack.MsgOptionBlocks(append(button("a", "v", "ok"), button("b", "v", "ok")...)...)}, "invalid_blocks"},
	}
	s := slackfake.NewServer(t)
	api := mustClient(t, s)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := api.PostMessage(tc.channel, tc.opts...)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("PostMessage: %v", err)
				}
				return
			}
			if !isSlackError(err, tc.want) {
				t.Fatalf("PostMessage: %v, want %s", err, tc.want)
			}
		})
	}

	t.Run("invalid blocks JSON", func(t *testing.T) {
		for _, blocks := range []string{`{"type":"divider"}`, `[{"type":`, `[{"text":"no type"}]`} {
			status, body := rawCall(t, s, "chat.postMessage", "channel=C1&blocks="+blocks)
			if status != http.StatusOK || !strings.Contains(body, `"error":"invalid_blocks"`) {
				t.Errorf("blocks %s: %d %s", blocks, status, body)
			}
		}
	})
	t.Run("update unknown message", func(t *testing.T) {
		_, _, _, err := api.UpdateMessage("C1", "1700000099.000100", slack.MsgOptionText("x", false))
		if !isSlackError(err, "message_not_found") {
			t.Errorf("UpdateMessage: %v, want message_not_found", err)
		}
	})
	t.Run("update user's message", func(t *testing.T) {
		ts := s.AddMessage("C1", "U1", "I'd like a pizza")
		_, _, _, err := api.UpdateMessage("C1", ts, slack.MsgOptionText("x", false))
		if !isSlackError(err, "cant_update_message") {
			t.Errorf("UpdateMessage: %v, want cant_update_message", err)
		}
	})
	t.Run("no token", func(t *testing.T) {
		_, err := slack.New("", slack.OptionAPIURL(s.URL())).AuthTest()
		if !isSlackError(err, "not_authed") {
			t.Errorf("AuthTest without token: %v, want not_authed", err)
		}
	})
	t.Run("unknown method", func(t *testing.T) {
		err := api.AddReaction("thumbsup", slack.NewRefToMessage("C1", "1"))
		if !isSlackError(err, "unknown_method") {
			t.Errorf("AddReaction: %v, want unknown_method", err)
		}
		if len(s.Calls("reactions.add")) != 1 {
			t.Error("reactions.add not recorded")
		}
	})
}

// rawCall posts a form body to a method and returns the answer.
func rawCall(t *testing.T, s *slackfake.Server, method, form string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL()+method, strings.NewReader(form))
	req.Header.Set("Content-Type", slackfake.ContentTypeForm)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestFaults(t *testing.T) {
	s := slackfake.NewServer(t)
	api := mustClient(t, s)
	post := func() error {
		_, _, err := api.PostMessage("C1", slack.MsgOptionText("hi", false))
		return err
	}

	s.FailNext("chat.postMessage", 2, slackfake.RateLimited(7))
	for range 2 {
		var rl *slack.RateLimitedError
		if err := post(); !errors.As(err, &rl) || rl.RetryAfter != 7*time.Second {
			t.Fatalf("PostMessage: %v, want *slack.RateLimitedError after 7s", err)
		}
	}

	s.FailNext("chat.postMessage", 1, slackfake.ServerError())
	var sc slack.StatusCodeError
	if err := post(); !errors.As(err, &sc) || sc.Code != http.StatusInternalServerError {
		t.Fatalf("PostMessage: %v, want a 500 slack.StatusCodeError", err)
	}

	s.FailNext("chat.postMessage", 1, slackfake.SlackError("channel_not_found"))
	if err := post(); !isSlackError(err, "channel_not_found") {
		t.Fatalf("PostMessage: %v, want channel_not_found", err)
	}

	if err := post(); err != nil {
		t.Fatalf("PostMessage after the faults: %v", err)
	}
	if got := len(s.Messages("C1")); got != 1 {
		t.Errorf("%d messages kept, want only the one not failed", got)
	}
	calls := s.Calls("chat.postMessage")
	wantStatus := []int{429, 429, 500, 200, 200}
	for i, c := range calls {
		if c.Status != wantStatus[i] || c.Fault != (i < 4) {
			t.Errorf("call %d: status %d fault %v, want %d %v", i+1, c.Status, c.Fault, wantStatus[i], i < 4)
		}
	}
	// Faults are per method.
	if _, err := api.AuthTest(); err != nil {
		t.Errorf("AuthTest: %v", err)
	}
}

func TestHang(t *testing.T) {
	s := slackfake.NewServer(t)
	api := mustClient(t, s)
	s.FailNext("views.publish", 1, slackfake.Hang())

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U1", View: homeView("hi")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("PublishView: %v, want the deadline", err)
	}
	c, err := s.WaitFor(mustCtx(t), slackfake.Method("views.publish"))
	if err != nil || c.Status != 0 || !c.Fault || c.Param("user_id") != "U1" {
		t.Errorf("hung call = %+v, %v", c, err)
	}

	// A hanging call is released by Close.
	s.FailNext("auth.test", 1, slackfake.Hang())
	done := make(chan error, 1)
	go func() {
		_, err := api.AuthTest()
		done <- err
	}()
	if _, err := s.WaitFor(mustCtx(t), slackfake.Method("auth.test")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("AuthTest succeeded on a closed server")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close didn't release the hanging call")
	}
}

func TestWaitFor(t *testing.T) {
	s := slackfake.NewServer(t)
	api := mustClient(t, s)
	if _, _, err := api.PostMessage("C1", slack.MsgOptionText("past", false)); err != nil {
		t.Fatal(err)
	}
	seq := s.LastSeq()

	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 3 {
			if _, _, err := api.PostMessage("C2", slack.MsgOptionText(fmt.Sprint("future ", i), false)); err != nil {
				t.Error(err)
			}
		}
	})
	calls, err := s.WaitCalls(mustCtx(t), 3, slackfake.Method("chat.postMessage", slackfake.After(seq)))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range calls {
		if c.Param("text") != fmt.Sprint("future ", i) || c.Seq <= seq {
			t.Errorf("call %d = %+v", i, c)
		}
	}
	wg.Wait()

	past, err := s.WaitFor(mustCtx(t), func(c slackfake.Call) bool { return c.Param("text") == "past" })
	if err != nil || past.Seq != 1 {
		t.Errorf("WaitFor(past) = %+v, %v", past, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.WaitFor(ctx, slackfake.Method("chat.update")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitFor(never) = %v, want the deadline", err)
	}
}

func TestConcurrentPosts(t *testing.T) {
	s := slackfake.NewServer(t)
	api := mustClient(t, s)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, _, err := api.PostMessage(fmt.Sprint("C", i%3), slack.MsgOptionText("hi", false)); err != nil {
				t.Error(err)
			}
			_ = s.Calls("")
			_ = s.Messages("C0")
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, ch := range []string{"C0", "C1", "C2"} {
		prev := ""
		for _, m := range s.Messages(ch) {
			if seen[m.Ts] || m.Ts <= prev {
				t.Errorf("ts %s in %s not unique and increasing", m.Ts, ch)
			}
			seen[m.Ts], prev = true, m.Ts
		}
	}
	if len(seen) != 20 {
		t.Errorf("%d messages, want 20", len(seen))
	}
}

func TestUsers(t *testing.T) {
	s := slackfake.NewServer(t)
	api := mustClient(t, s)

	u, err := api.GetUserInfo("U42")
	if err != nil {
		t.Fatalf("GetUserInfo: %v", err)
	}
	if u.ID != "U42" || u.RealName != "User U42" || u.Profile.Email != "u42@example.com" {
		t.Errorf("derived user = %+v", u)
	}

	s.SetUser(slack.User{ID: "U1", RealName: "Ada Lovelace", Profile: slack.UserProfile{RealName: "Ada Lovelace", Email: "ada@example.org"}})
	if u, err := api.GetUserInfo("U1"); err != nil || u.RealName != "Ada Lovelace" || u.Profile.Email != "ada@example.org" {
		t.Errorf("set user = %+v, %v", u, err)
	}
	if u, err := api.GetUserByEmail("ada@example.org"); err != nil || u.ID != "U1" {
		t.Errorf("GetUserByEmail(ada) = %+v, %v", u, err)
	}
	if u, err := api.GetUserByEmail("u42@example.com"); err != nil || u.ID != "U42" {
		t.Errorf("GetUserByEmail(u42) = %+v, %v", u, err)
	}

	s.RemoveUser("U42")
	for _, id := range []string{"U42", "C1", ""} {
		if _, err := api.GetUserInfo(id); !isSlackError(err, "user_not_found") {
			t.Errorf("GetUserInfo(%q): %v, want user_not_found", id, err)
		}
	}
}

func homeView(s string) slack.HomeTabViewRequest {
	return slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: []slack.Block{
		slack.NewSectionBlock(md(s), nil, nil, slack.SectionBlockOptionBlockID("orders")),
		slack.NewActionBlock("home_actions", slack.NewButtonBlockElement("new_order", "new", text("New order"))),
	}}}
}

func orderModal(title string) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           text(title),
		Submit:          text("Order"),
		Close:           text("Cancel"),
		CallbackID:      "order_form",
		PrivateMetadata: "conv:7",
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock("qty", text("Quantity"), nil, slack.NewPlainTextInputBlockElement(nil, "qty_input")),
		}},
	}
}

func TestViews(t *testing.T) {
	s := slackfake.NewServer(t)
	api := mustClient(t, s)

	opened, err := api.OpenView("trigger-1", orderModal("Pizza"))
	if err != nil {
		t.Fatalf("OpenView: %v", err)
	}
	if !strings.HasPrefix(opened.ID, "V") || opened.Hash == "" || opened.CallbackID != "order_form" || opened.PrivateMetadata != "conv:7" || opened.Title.Text != "Pizza" {
		t.Errorf("OpenView = %+v", opened.View)
	}
	if c := s.Calls("views.open")[0]; c.Token != token || c.Param("trigger_id") != "trigger-1" || !strings.Contains(c.Param("view"), `"callback_id":"order_form"`) {
		t.Errorf("views.open call = %+v", c)
	}

	updated, err := api.UpdateView(orderModal("Pizza 2"), "", opened.Hash, opened.ID)
	if err != nil {
		t.Fatalf("UpdateView: %v", err)
	}
	if updated.ID != opened.ID || updated.Hash == opened.Hash {
		t.Errorf("UpdateView = id %s hash %s, want the same id and a new hash", updated.ID, updated.Hash)
	}
	raw, found := s.View(opened.ID)
	var v slack.View
	if !found || json.Unmarshal(raw, &v) != nil || v.Title.Text != "Pizza 2" {
		t.Errorf("View(%s) = %s, %v", opened.ID, raw, found)
	}
	if _, err := api.UpdateView(orderModal("x"), "", opened.Hash, opened.ID); !isSlackError(err, "hash_conflict") {
		t.Errorf("UpdateView with a stale hash: %v, want hash_conflict", err)
	}
	if _, err := api.UpdateView(orderModal("x"), "", "", "V404"); !isSlackError(err, "not_found") {
		t.Errorf("UpdateView of an unknown view: %v, want not_found", err)
	}

	pushed, err := api.PushView("trigger-2", orderModal("Toppings"))
	if err != nil || pushed.ID == opened.ID {
		t.Errorf("PushView = %+v, %v", pushed, err)
	}

	tests := []struct {
		name string
		view slack.ModalViewRequest
	}{
		{"title too long", orderModal(strings.Repeat("x", 25))},
		{"no title", func() slack.ModalViewRequest { m := orderModal("x"); m.Title = nil; return m }()},
		{"input without submit", func() slack.ModalViewRequest { m := orderModal("x"); m.Submit = nil; return m }()},
		{"home type", func() slack.ModalViewRequest { m := orderModal("x"); m.Type = slack.VTHomeTab; return m }()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := api.OpenView("trigger", tc.view)
			var se slack.SlackErrorResponse
			if !errors.As(err, &se) || se.Err != "invalid_arguments" || len(se.ResponseMetadata.Messages) == 0 {
				t.Errorf("OpenView: %v, want invalid_arguments with a message", err)
			}
		})
	}

	home, err := api.PublishView("U1", homeView("No orders yet"), "")
	if err != nil {
		t.Fatalf("PublishView: %v", err)
	}
	again, err := api.PublishView("U1", homeView("1 order"), home.Hash)
	if err != nil || again.ID != home.ID {
		t.Fatalf("second PublishView = %+v, %v; want the same view id", again, err)
	}
	if _, err := api.PublishView("U1", homeView("stale"), home.Hash); !isSlackError(err, "hash_conflict") {
		t.Errorf("PublishView with a stale hash: %v, want hash_conflict", err)
	}
	raw, found = s.HomeView("U1")
	var hv slack.View
	if !found || json.Unmarshal(raw, &hv) != nil || hv.Type != slack.VTHomeTab {
		t.Fatalf("HomeView(U1) = %s, %v", raw, found)
	}
	if sec := hv.Blocks.BlockSet[0].(*slack.SectionBlock); sec.Text.Text != "1 order" {
		t.Errorf("Home shows %q, want the last published", sec.Text.Text)
	}
	if _, found := s.HomeView("U2"); found {
		t.Error("HomeView(U2) found before any publish")
	}
}

func TestSignSlackExample(t *testing.T) {
	// https://api.slack.com/authentication/verifying-requests-from-slack
	body := "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	stamp, sig := slackfake.Sign("8f742231b10e8888abcd99yyyzzz85a5", time.Unix(1531420618, 0), []byte(body))
	if stamp != "1531420618" {
		t.Errorf("timestamp = %q", stamp)
	}
	if want := "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"; sig != want {
		t.Errorf("signature = %q, want %q", sig, want)
	}
}

// endpoint is a bot endpoint that checks signatures with slack-go and keeps
// what it was sent.
type endpoint struct {
	secret string
	mu     sync.Mutex
	got    []*http.Request
	bodies [][]byte
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	sv, err := slack.NewSecretsVerifier(r.Header, e.secret)
	if err == nil {
		_, _ = sv.Write(body)
		err = sv.Ensure()
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	e.mu.Lock()
	e.got = append(e.got, r)
	e.bodies = append(e.bodies, body)
	e.mu.Unlock()
	fmt.Fprint(w, "ack")
}

func TestPostSigned(t *testing.T) {
	const secret = "s3cret"
	ep := &endpoint{secret: secret}
	srv := httptest.NewServer(ep)
	defer srv.Close()
	body := slackfake.EventCallback("Ev1", slackfake.TeamID, slackfake.DMMessage("U1", "DU1", "hi", "1700000001.000100"))

	status, resp, err := slackfake.Post(srv.URL, secret, time.Now(), slackfake.ContentTypeJSON, body, slackfake.RetryHeaders(1, "http_timeout"))
	if err != nil || status != http.StatusOK || string(resp) != "ack" {
		t.Fatalf("Post = %d %q %v", status, resp, err)
	}
	r := ep.got[0]
	if r.Header.Get("Content-Type") != slackfake.ContentTypeJSON || r.Header.Get(slackfake.HeaderRetryNum) != "1" || !bytes.Equal(ep.bodies[0], body) {
		t.Errorf("endpoint got headers %v body %s", r.Header, ep.bodies[0])
	}

	tests := []struct {
		name    string
		secret  string
		ts      time.Time
		headers http.Header
	}{
		{"wrong secret", "other", time.Now(), nil},
		{"too old", secret, time.Now().Add(-10 * time.Minute), nil},
		{"signature replaced", secret, time.Now(), http.Header{slackfake.HeaderSignature: {"v0=00"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, _, err := slackfake.Post(srv.URL, tc.secret, tc.ts, slackfake.ContentTypeJSON, body, tc.headers)
			if err != nil || status != http.StatusUnauthorized {
				t.Errorf("Post = %d, %v; want 401", status, err)
			}
		})
	}
}

// formRequest is an HTTP request carrying a form body, for slack-go's parsers.
func formRequest(body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/slack", bytes.NewReader(body))
	r.Header.Set("Content-Type", slackfake.ContentTypeForm)
	return r
}

func TestBuildersDecode(t *testing.T) {
	t.Run("event callback", func(t *testing.T) {
		body := slackfake.EventCallback("Ev9", "T9", slackfake.DMMessage("U1", "DU1", "2 pizzas", "1700000001.000100"))
		ev, err := slackevents.ParseEvent(body, slackevents.OptionVerifyToken(&slackevents.TokenComparator{VerificationToken: slackfake.VerificationToken}))
		if err != nil {
			t.Fatalf("ParseEvent: %v", err)
		}
		cb, isCallback := ev.Data.(*slackevents.EventsAPICallbackEvent)
		if ev.Type != slackevents.CallbackEvent || !isCallback || cb.EventID != "Ev9" || ev.TeamID != "T9" || cb.EventTime == 0 {
			t.Fatalf("outer event = %+v %+v", ev, cb)
		}
		msg, isMessage := ev.InnerEvent.Data.(*slackevents.MessageEvent)
		if !isMessage {
			t.Fatalf("inner event is %T", ev.InnerEvent.Data)
		}
		if msg.User != "U1" || msg.Channel != "DU1" || msg.Text != "2 pizzas" || msg.TimeStamp != "1700000001.000100" || msg.ChannelType != "im" || msg.BotID != "" {
			t.Errorf("message event = %+v", msg)
		}
	})
	t.Run("app home opened", func(t *testing.T) {
		ev, err := slackevents.ParseEvent(slackfake.EventCallback("Ev2", slackfake.TeamID, slackfake.AppHomeOpened("U1")), slackevents.OptionNoVerifyToken())
		if err != nil {
			t.Fatalf("ParseEvent: %v", err)
		}
		if home, ok := ev.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent); !ok || home.User != "U1" || home.Tab != "home" {
			t.Errorf("inner event = %#v", ev.InnerEvent.Data)
		}
	})
	t.Run("url verification", func(t *testing.T) {
		ev, err := slackevents.ParseEvent(slackfake.URLVerification("chal-1"), slackevents.OptionNoVerifyToken())
		if err != nil {
			t.Fatalf("ParseEvent: %v", err)
		}
		uv, ok := ev.Data.(*slackevents.EventsAPIURLVerificationEvent)
		if ev.Type != slackevents.URLVerification || !ok || uv.Challenge != "chal-1" {
			t.Errorf("event = %+v", ev)
		}
	})
	t.Run("block action", func(t *testing.T) {
		ic, err := slack.InteractionCallbackParse(formRequest(slackfake.BlockAction("U1", "DU1", "1700000000.000100", "confirm", "order:42", "trig-1")))
		if err != nil {
			t.Fatalf("InteractionCallbackParse: %v", err)
		}
		if ic.Type != slack.InteractionTypeBlockActions || ic.User.ID != "U1" || ic.Channel.ID != "DU1" || ic.TriggerID != "trig-1" ||
			ic.Container.MessageTs != "1700000000.000100" || ic.Container.ChannelID != "DU1" || ic.Message.Timestamp != "1700000000.000100" ||
			ic.Team.ID != slackfake.TeamID || ic.ResponseURL == "" {
			t.Errorf("callback = %+v", ic)
		}
		if len(ic.ActionCallback.BlockActions) != 1 {
			t.Fatalf("block actions = %+v", ic.ActionCallback)
		}
		a := ic.ActionCallback.BlockActions[0]
		if a.ActionID != "confirm" || a.Value != "order:42" || a.Type != "button" || a.BlockID == "" || a.ActionTs == "" {
			t.Errorf("action = %+v", a)
		}
	})
	t.Run("view submission", func(t *testing.T) {
		body := slackfake.ViewSubmission("U1", "order_form", "V1", map[string]map[string]any{
			"qty":  {"qty_input": slackfake.InputValue("2")},
			"size": {"size_select": slackfake.SelectedOption("large")},
		})
		ic, err := slack.InteractionCallbackParse(formRequest(body))
		if err != nil {
			t.Fatalf("InteractionCallbackParse: %v", err)
		}
		if ic.Type != slack.InteractionTypeViewSubmission || ic.User.ID != "U1" || ic.View.ID != "V1" || ic.View.CallbackID != "order_form" || ic.View.State == nil {
			t.Fatalf("callback = %+v", ic)
		}
		if got := ic.View.State.Values["qty"]["qty_input"].Value; got != "2" {
			t.Errorf("qty = %q", got)
		}
		if got := ic.View.State.Values["size"]["size_select"].SelectedOption.Value; got != "large" {
			t.Errorf("size = %q", got)
		}
	})
	t.Run("slash command", func(t *testing.T) {
		cmd, err := slack.SlashCommandParse(formRequest(slackfake.SlashCommand("U1", "C1", "/order", "2 large pizzas & a salad", "trig-2")))
		if err != nil {
			t.Fatalf("SlashCommandParse: %v", err)
		}
		want := slack.SlashCommand{
			Token: slackfake.VerificationToken, TeamID: slackfake.TeamID, TeamDomain: slackfake.TeamDomain,
			ChannelID: "C1", ChannelName: "c1", UserID: "U1", UserName: "u1", Command: "/order",
			Text: "2 large pizzas & a salad", ResponseURL: cmd.ResponseURL, TriggerID: "trig-2", APIAppID: slackfake.AppID,
		}
		if cmd != want || cmd.ResponseURL == "" {
			t.Errorf("command = %+v, want %+v", cmd, want)
		}
	})
}

func TestClickAndResponseURL(t *testing.T) {
	s := slackfake.NewServer(t)
	api := mustClient(t, s)
	_, ts, err := api.PostMessage("U1", slack.MsgOptionText("Order 42", false), slack.MsgOptionBlocks(orderBlocks("received")...))
	if err != nil {
		t.Fatal(err)
	}

	body, err := s.Click("U1", "DU1", ts, "confirm", "trig-3")
	if err != nil {
		t.Fatalf("Click: %v", err)
	}
	ic, err := slack.InteractionCallbackParse(formRequest(body))
	if err != nil {
		t.Fatalf("InteractionCallbackParse: %v", err)
	}
	a := ic.ActionCallback.BlockActions[0]
	if a.ActionID != "confirm" || a.BlockID != "order_actions" || a.Value != "order:42" || a.Text.Text != "Confirm" {
		t.Errorf("action = %+v", a)
	}
	if ic.Message.Text != "Order 42" || len(ic.Message.Blocks.BlockSet) != 2 || ic.Channel.ID != "DU1" || ic.Container.MessageTs != ts {
		t.Errorf("callback message = %+v", ic.Message)
	}
	if !strings.HasPrefix(ic.ResponseURL, s.URL()) {
		t.Fatalf("response_url %q isn't the server's", ic.ResponseURL)
	}

	if _, err := s.Click("U1", "DU1", ts, "missing", "t"); err == nil {
		t.Error("Click on a missing action succeeded")
	}
	if _, err := s.Click("U1", "DU1", "1.2", "confirm", "t"); err == nil {
		t.Error("Click on a missing message succeeded")
	}

	// The bot answers through response_url: an ephemeral note, then it
	// replaces the original message.
	if _, _, err := api.PostMessage("", slack.MsgOptionResponseURL(ic.ResponseURL, slack.ResponseTypeEphemeral), slack.MsgOptionText("Working on it", false)); err != nil {
		t.Fatalf("ephemeral response: %v", err)
	}
	if _, _, err := api.PostMessage("", slack.MsgOptionReplaceOriginal(ic.ResponseURL), slack.MsgOptionText("Order 42 confirmed", false)); err != nil {
		t.Fatalf("replace_original: %v", err)
	}
	if eph := s.Ephemerals("DU1"); len(eph) != 1 || eph[0].To != "U1" || eph[0].Text != "Working on it" {
		t.Errorf("Ephemerals = %+v", eph)
	}
	if m, _ := s.Message("DU1", ts); m.Text != "Order 42 confirmed" || m.Blocks != nil || m.Edited == "" {
		t.Errorf("replaced message = %+v", m)
	}
	if calls := s.Calls(slackfake.ResponseURLMethod); len(calls) != 2 || calls[1].Param("replace_original") != "true" {
		t.Errorf("response_url calls = %+v", calls)
	}

	for range slackfake.MaxResponseURLUses - 2 {
		if _, _, err := api.PostMessage("", slack.MsgOptionResponseURL(ic.ResponseURL, slack.ResponseTypeInChannel), slack.MsgOptionText("again", false)); err != nil {
			t.Fatalf("in_channel response: %v", err)
		}
	}
	_, _, err = api.PostMessage("", slack.MsgOptionResponseURL(ic.ResponseURL, slack.ResponseTypeInChannel), slack.MsgOptionText("once too often", false))
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != http.StatusNotFound {
		t.Errorf("sixth use of a response_url: %v, want 404", err)
	}
	if got := len(s.Messages("DU1")); got != 1+slackfake.MaxResponseURLUses-2 {
		t.Errorf("%d messages in DU1 after in_channel responses", got)
	}
}

func TestCommandResponseURL(t *testing.T) {
	s := slackfake.NewServer(t)
	api := mustClient(t, s)
	cmd, err := slack.SlashCommandParse(formRequest(s.Command("U1", "C1", "/order", "", "trig")))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.PostMessage("", slack.MsgOptionResponseURL(cmd.ResponseURL, slack.ResponseTypeInChannel), slack.MsgOptionText("Menu", false)); err != nil {
		t.Fatalf("response: %v", err)
	}
	if msgs := s.Messages("C1"); len(msgs) != 1 || msgs[0].Text != "Menu" || msgs[0].User != slackfake.BotUserID {
		t.Errorf("Messages(C1) = %+v", msgs)
	}
}

func TestClickViewAndSubmit(t *testing.T) {
	s := slackfake.NewServer(t)
	api := mustClient(t, s)

	home, err := api.PublishView("U1", homeView("No orders"), "")
	if err != nil {
		t.Fatal(err)
	}
	body, err := s.ClickView("U1", home.ID, "new_order", "trig-home")
	if err != nil {
		t.Fatalf("ClickView: %v", err)
	}
	ic, err := slack.InteractionCallbackParse(formRequest(body))
	if err != nil {
		t.Fatal(err)
	}
	if ic.Container.Type != "view" || ic.Container.ViewID != home.ID || ic.View.ID != home.ID || ic.View.Type != slack.VTHomeTab ||
		ic.ActionCallback.BlockActions[0].Value != "new" || ic.TriggerID != "trig-home" {
		t.Errorf("callback = %+v", ic)
	}

	modal, err := api.OpenView(ic.TriggerID, orderModal("Pizza"))
	if err != nil {
		t.Fatal(err)
	}
	body, err = s.Submit("U1", modal.ID, map[string]map[string]any{"qty": {"qty_input": slackfake.InputValue("3")}})
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	ic, err = slack.InteractionCallbackParse(formRequest(body))
	if err != nil {
		t.Fatal(err)
	}
	if ic.Type != slack.InteractionTypeViewSubmission || ic.View.ID != modal.ID || ic.View.Hash != modal.Hash ||
		ic.View.CallbackID != "order_form" || ic.View.PrivateMetadata != "conv:7" || ic.View.State.Values["qty"]["qty_input"].Value != "3" {
		t.Errorf("submission = %+v", ic.View)
	}

	for name, values := range map[string]map[string]map[string]any{
		"unknown block":  {"size": {"size_select": slackfake.SelectedOption("L")}},
		"unknown action": {"qty": {"other": slackfake.InputValue("1")}},
	} {
		if _, err := s.Submit("U1", modal.ID, values); err == nil {
			t.Errorf("Submit with %s succeeded", name)
		}
	}
	if _, err := s.Submit("U1", home.ID, nil); err == nil {
		t.Error("Submit of a Home tab succeeded")
	}
}

// A choice in a modal's select menu comes as a block action from the view
// as the bot last sent it, with the modal's state and the choice.
func TestChoose(t *testing.T) {
	s := slackfake.NewServer(t)
	api := mustClient(t, s)
	product := slack.NewOptionsSelectBlockElement(slack.OptTypeExternal, text("Search"), "product")
	small := slack.NewOptionBlockObject("s", text("Small"), nil)
	size := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, text("Size"), "size", small, slack.NewOptionBlockObject("l", text("Large"), nil))
	modal := orderModal("Pizza")
	modal.Blocks.BlockSet = append(modal.Blocks.BlockSet,
		slack.NewInputBlock("product", text("Product"), nil, product).WithDispatchAction(true),
		slack.NewInputBlock("size", text("Size"), nil, size).WithDispatchAction(true),
	)
	opened, err := api.OpenView("trigger", modal)
	if err != nil {
		t.Fatal(err)
	}
	typed := map[string]map[string]any{"qty": {"qty_input": slackfake.InputValue("2")}}

	body, err := s.Choose("U1", opened.ID, "product", "margherita", typed)
	if err != nil {
		t.Fatalf("Choose: %v", err)
	}
	ic, err := slack.InteractionCallbackParse(formRequest(body))
	if err != nil {
		t.Fatal(err)
	}
	if ic.Type != slack.InteractionTypeBlockActions || ic.Container.Type != "view" || ic.View.ID != opened.ID || ic.View.Hash != opened.Hash ||
		ic.View.CallbackID != "order_form" || ic.TriggerID == "" || ic.User.ID != "U1" {
		t.Errorf("callback = %+v", ic)
	}
	a := ic.ActionCallback.BlockActions[0]
	if a.ActionID != "product" || a.BlockID != "product" || a.Type != "external_select" || a.SelectedOption.Value != "margherita" || a.ActionTs == "" {
		t.Errorf("action = %+v", a)
	}
	state := ic.View.State.Values
	if state["qty"]["qty_input"].Value != "2" || state["product"]["product"].SelectedOption.Value != "margherita" {
		t.Errorf("state = %+v", state)
	}

	body, err = s.Choose("U1", opened.ID, "size", "s", nil)
	if err != nil {
		t.Fatalf("Choose a static option: %v", err)
	}
	ic, err = slack.InteractionCallbackParse(formRequest(body))
	if err != nil {
		t.Fatal(err)
	}
	if got := ic.ActionCallback.BlockActions[0].SelectedOption; got.Value != "s" || got.Text == nil || got.Text.Text != "Small" {
		t.Errorf("static choice = %+v", got)
	}

	for name, choose := range map[string]func() ([]byte, error){
		"an option not offered": func() ([]byte, error) { return s.Choose("U1", opened.ID, "size", "xl", nil) },
		"not a select menu":     func() ([]byte, error) { return s.Choose("U1", opened.ID, "qty_input", "2", nil) },
		"unknown action":        func() ([]byte, error) { return s.Choose("U1", opened.ID, "crust", "thin", nil) },
		"unknown block": func() ([]byte, error) {
			return s.Choose("U1", opened.ID, "size", "s", map[string]map[string]any{"crust": {}})
		},
		"unknown view": func() ([]byte, error) { return s.Choose("U1", "V404", "size", "s", nil) },
	} {
		if _, err := choose(); err == nil {
			t.Errorf("Choose with %s succeeded", name)
		}
	}
}

package telegramtest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// call posts a form to the server as tgbotapi does and decodes the answer.
func call(t *testing.T, s *Server, method string, params url.Values) (int, tgbotapi.APIResponse) {
	t.Helper()
	resp, err := http.PostForm(s.URL()+"/bot42:TOKEN/"+method, params)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r tgbotapi.APIResponse
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("%s: %v: %s", method, err, body)
	}
	return resp.StatusCode, r
}

func TestParseHTML(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"plain", "plain", true},
		{"<b>bold</b> &amp; &lt;tag&gt; &quot;q&quot; &#39;s &#x1F600;", `bold & <tag> "q" 's 😀`, true},
		{`<a href="https://t.me/x">link</a>`, "link", true},
		{"Tom & Jerry", "", false},
		{"5 < 7", "", false},
		{"7 > 5", "", false},
		{"<script>x</script>", "", false},
		{"<b>unclosed", "", false},
		{"<b><i>crossed</b></i>", "", false},
		{"&nbsp;", "", false},
	}
	for _, tt := range tests {
		got, err := parseHTML(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseHTML(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// TestLongPoll: getUpdates waits for an update, honours the offset (which
// confirms what is below it) and allowed_updates.
func TestLongPoll(t *testing.T) {
	s := NewServer(t)
	u := NewUser(1, "en")
	got := make(chan tgbotapi.APIResponse, 1)
	go func() {
		_, r := call(t, s, "getUpdates", url.Values{"timeout": {"10"}})
		got <- r
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitPolling(ctx); err != nil {
		t.Fatal(err)
	}
	first := s.PushUpdate(s.Text(u, "hello"))
	var ups []tgbotapi.Update
	json.Unmarshal((<-got).Result, &ups)
	if len(ups) != 1 || ups[0].UpdateID != first || ups[0].Message.Text != "hello" {
		t.Fatalf("got %+v", ups)
	}

	second := s.PushUpdate(s.Text(u, "again"))
	s.PushUpdate(s.Callback(u, *ups[0].Message, "x"))
	_, r := call(t, s, "getUpdates", url.Values{"offset": {itoa(first + 1)}, "allowed_updates": {`["message"]`}})
	json.Unmarshal(r.Result, &ups)
	if len(ups) != 1 || ups[0].UpdateID != second || s.Offset() != first+1 {
		t.Fatalf("got %+v, offset %d", ups, s.Offset())
	}
	if s.Pending() != 2 {
		t.Errorf("%d pending", s.Pending())
	}

	// A webhook makes getUpdates a conflict, as on Telegram.
	call(t, s, "setWebhook", url.Values{"url": {"https://example.com/h"}, "secret_token": {"abc"}})
	if code, r := call(t, s, "getUpdates", nil); code != http.StatusConflict || r.ErrorCode != 409 {
		t.Errorf("getUpdates with a webhook: %d %+v", code, r)
	}
}

func TestFaults(t *testing.T) {
	s := NewServer(t)
	s.FailNext("sendMessage", 1, TooManyRequests(3))
	s.FailNext("sendMessage", 1, Blocked())
	code, r := call(t, s, "sendMessage", url.Values{"chat_id": {"5"}, "text": {"hi"}})
	if code != 429 || r.Parameters == nil || r.Parameters.RetryAfter != 3 || r.Description != "Too Many Requests: retry after 3" {
		t.Errorf("429: %d %+v", code, r)
	}
	if code, r := call(t, s, "sendMessage", url.Values{"chat_id": {"5"}, "text": {"hi"}}); code != 403 || !strings.Contains(r.Description, "blocked") {
		t.Errorf("403: %d %+v", code, r)
	}
	if code, _ := call(t, s, "sendMessage", url.Values{"chat_id": {"5"}, "text": {"hi"}}); code != 200 {
		t.Errorf("after the faults: %d", code)
	}
	calls := s.Calls("sendMessage")
	if len(calls) != 3 || !calls[0].Fault || calls[2].Fault || calls[2].Token != "42:TOKEN" {
		t.Errorf("calls %+v", calls)
	}

	s.FailNext("getMe", 1, Hang())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/botX/getMe", nil)
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Error("a hanging call answered")
	}
}

// TestMessages: ids increase per chat, edits follow Telegram's rules.
func TestMessages(t *testing.T) {
	s := NewServer(t)
	u := NewUser(7, "en")
	in := s.Text(u, "hi")
	kb := `{"inline_keyboard":[[{"text":"Go","callback_data":"menu.1:go"}]]}`
	_, r := call(t, s, "sendMessage", url.Values{"chat_id": {"7"}, "text": {"<b>Menu</b>"}, "parse_mode": {"HTML"}, "reply_markup": {kb}})
	var m tgbotapi.Message
	json.Unmarshal(r.Result, &m)
	if m.MessageID != in.Message.MessageID+1 || m.Text != "Menu" || m.ReplyMarkup == nil {
		t.Fatalf("sent %+v", m)
	}
	edit := url.Values{"chat_id": {"7"}, "message_id": {itoa(m.MessageID)}, "text": {"Menu"}, "reply_markup": {kb}}
	if code, r := call(t, s, "editMessageText", edit); code != 400 || !strings.Contains(r.Description, "not modified") {
		t.Errorf("unchanged edit: %d %+v", code, r)
	}
	edit.Set("text", "Cart")
	if code, _ := call(t, s, "editMessageText", edit); code != 200 {
		t.Errorf("edit: %d", code)
	}
	long := `{"inline_keyboard":[[{"text":"Go","callback_data":"` + strings.Repeat("x", 65) + `"}]]}`
	if code, r := call(t, s, "sendMessage", url.Values{"chat_id": {"7"}, "text": {"x"}, "reply_markup": {long}}); code != 400 || !strings.Contains(r.Description, "BUTTON_DATA_INVALID") {
		t.Errorf("65-byte callback data: %d %+v", code, r)
	}
	if code, _ := call(t, s, "sendMessage", url.Values{"chat_id": {"7"}, "text": {strings.Repeat("😀", 2049)}}); code != 400 {
		t.Errorf("4098 UTF-16 units accepted")
	}
	cb, err := s.Tap(u, 7, Label("Go"))
	if err != nil || cb.CallbackQuery.Data != "menu.1:go" {
		t.Fatalf("tap: %v %+v", err, cb)
	}
	if code, _ := call(t, s, "answerCallbackQuery", url.Values{"callback_query_id": {cb.CallbackQuery.ID}}); code != 200 || !s.Answered(cb.CallbackQuery.ID) {
		t.Error("callback not answered")
	}
	if code, _ := call(t, s, "answerCallbackQuery", url.Values{"callback_query_id": {cb.CallbackQuery.ID}}); code != 400 {
		t.Error("callback answered twice")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// call posts a Bot API method with form parameters, as the bot library
// does, and returns the decoded answer.
func call(t *testing.T, srv *httptest.Server, method string, params url.Values) map[string]any {
	t.Helper()
	resp, err := http.PostForm(srv.URL+"/bot42:secret/"+method, params)
	if err != nil {
		t.Fatal(err)
	}
	return decodeAnswer(t, resp)
}

func decodeAnswer(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var answer map[string]any
	if err := json.Unmarshal(body, &answer); err != nil {
		t.Fatalf("answer is not JSON: %s", body)
	}
	if answer["ok"] != true {
		t.Fatalf("answer not ok: %s", body)
	}
	return answer
}

func messageID(t *testing.T, answer map[string]any) string {
	t.Helper()
	id, ok := answer["result"].(map[string]any)["message_id"].(float64)
	if !ok {
		t.Fatalf("no message_id in %v", answer)
	}
	return strconv.FormatInt(int64(id), 10)
}

const keyboard = `{"inline_keyboard":[[{"text":"🛍 Browse products","callback_data":"m:browse"}],[{"text":"🛒 Cart","callback_data":"m:cart"},{"text":"Coffee \u0026 tea","callback_data":"c:coffee"}]]}`

func TestBotAPIRecordsThePlayedChats(t *testing.T) {
	api := newBotAPI()
	srv := httptest.NewServer(api)
	defer srv.Close()

	me := call(t, srv, "getMe", nil)["result"].(map[string]any)
	if me["id"] != float64(42) || me["username"] != botUsername || me["is_bot"] != true {
		t.Fatalf("getMe: %v", me)
	}

	c := api.play(1001)
	seq := c.mark()
	sent := call(t, srv, "sendMessage", url.Values{"chat_id": {"1001"}, "text": {"Main menu. Tom &amp; Jerry"}, "reply_markup": {keyboard}})
	id := messageID(t, sent)
	m, ok := c.find(seq, containing("Tom & Jerry"))
	if !ok || m.seq != seq+1 || m.at.IsZero() {
		t.Fatalf("sent message not found unescaped: %+v", m)
	}
	for label, data := range map[string]string{"Browse": "m:browse", "Cart": "m:cart", "Coffee & tea": "c:coffee"} {
		if b, ok := m.buttonLabelled(label); !ok || b.Data != data {
			t.Errorf("button %q: %+v, %v", label, b, ok)
		}
	}
	if _, ok := m.buttonLabelled("Checkout"); ok {
		t.Error("a button that is not there was found")
	}

	// A step edited in place, then its keyboard replaced on its own.
	seq = c.mark()
	call(t, srv, "editMessageText", url.Values{"chat_id": {"1001"}, "message_id": {id}, "text": {"Choose a category:"}})
	m, ok = c.find(seq, containing("Choose a category"))
	if !ok || m.markup != "" || len(c.msgs) != 1 {
		t.Fatalf("edit not applied in place: %+v (%d kept)", m, len(c.msgs))
	}
	call(t, srv, "editMessageReplyMarkup", url.Values{"chat_id": {"1001"}, "message_id": {id}, "reply_markup": {keyboard}})
	m, ok = c.find(m.seq, func(m message) bool { return true })
	if !ok || m.text != "Choose a category:" {
		t.Fatalf("editing the keyboard lost the text: %+v", m)
	}
	if _, ok := m.buttonLabelled("Browse"); !ok {
		t.Fatal("the edited keyboard is not read")
	}

	// A photo, uploaded as multipart.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("chat_id", "1001")
	mw.WriteField("caption", "Gel pen, 0.5 mm")
	fw, _ := mw.CreateFormFile("photo", "pen.jpg")
	fw.Write([]byte("not really a JPEG"))
	mw.Close()
	resp, err := http.Post(srv.URL+"/bot42:secret/sendPhoto", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	decodeAnswer(t, resp)
	if m, ok := c.find(0, containing("Gel pen")); !ok || !m.photo {
		t.Fatalf("photo not recorded: %+v", m)
	}

	call(t, srv, "sendMessage", url.Values{"chat_id": {"2002"}, "text": {"Your order has shipped"}})
	call(t, srv, "answerCallbackQuery", url.Values{"callback_query_id": {"7"}})
	call(t, srv, "setWebhook", url.Values{"url": {"https://example.com/hook"}})
	call(t, srv, "setMyCommands", url.Values{"commands": {"[]"}})
	got := [5]int64{api.calls.Load(), api.messages.Load(), api.unsolicited.Load(), api.callbacks.Load(), api.webhooks.Load()}
	if got != [5]int64{9, 4, 1, 1, 1} {
		t.Errorf("calls, messages, unsolicited, callbacks, webhooks = %v", got)
	}

	api.stop(1001)
	call(t, srv, "sendMessage", url.Values{"chat_id": {"1001"}, "text": {"Your order card"}})
	if api.unsolicited.Load() != 2 {
		t.Error("a message after the conversation ended was recorded")
	}
}

func TestBotAPIRefusesWhatIsNotAMethod(t *testing.T) {
	srv := httptest.NewServer(newBotAPI())
	defer srv.Close()
	for _, path := range []string{"/", "/getMe", "/bot/getMe", "/bot42:x/"} {
		resp, err := http.Post(srv.URL+path, "application/x-www-form-urlencoded", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s = %d, want 404", path, resp.StatusCode)
		}
	}
}

func TestChatKeepsTheNewestMessages(t *testing.T) {
	c := (&botAPI{}).play(1)
	for i := range maxKept + 5 {
		c.record(message{id: int64(i + 1), text: "m"}, false, time.Now())
	}
	if len(c.msgs) != maxKept || c.msgs[0].id != 6 || c.msgs[maxKept-1].id != maxKept+5 {
		t.Fatalf("kept %d messages, ids %d…%d", len(c.msgs), c.msgs[0].id, c.msgs[len(c.msgs)-1].id)
	}
	// An edit of a message no longer kept is a new message.
	c.record(message{id: 1, text: "edited"}, true, time.Now())
	if last := c.msgs[maxKept-1]; last.id != 1 || last.text != "edited" {
		t.Fatalf("newest %+v", last)
	}
}

func TestWaitForWakesOnTheReply(t *testing.T) {
	c := (&botAPI{}).play(1)
	seq := c.mark()
	go func() {
		c.record(message{id: 1, text: "Welcome"}, false, time.Now())
		c.record(message{id: 2, text: "Main menu. What would you like to do?"}, false, time.Now())
	}()
	m, ok := c.waitFor(context.Background(), seq, time.Now().Add(10*time.Second), containing("Main menu"))
	if !ok || m.id != 2 {
		t.Fatalf("waitFor = %+v, %v", m, ok)
	}
	// Nothing newer than the menu: the deadline ends the wait.
	start := time.Now()
	if _, ok := c.waitFor(context.Background(), m.seq, start.Add(50*time.Millisecond), containing("Main menu")); ok {
		t.Fatal("an old message answered a new step")
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Fatal("waitFor returned before its deadline")
	}
	if !c.repliedAfter(seq) || c.repliedAfter(m.seq) {
		t.Fatal("repliedAfter does not follow the messages")
	}
}

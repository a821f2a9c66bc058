package telegram_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"orderbot/bot"
	"orderbot/bot/telegram"
	"orderbot/bot/telegram/telegramtest"
	"orderbot/dialog"
)

// answering returns a polling env whose conversation answers every message
// with replies.
func answering(t *testing.T, replies ...dialog.Reply) *env {
	t.Helper()
	e := newEnv(t, newRecorder(func(dialog.Inbound) []dialog.Reply { return replies }), telegram.Config{PollTimeout: 5 * time.Second})
	e.run()
	return e
}

func buttons(actions ...string) [][]dialog.Button {
	var row []dialog.Button
	for _, a := range actions {
		row = append(row, dialog.Button{Label: "<" + a + ">", Action: a})
	}
	return [][]dialog.Button{row}
}

// TestEscaping: names and addresses with <, > and & arrive as written.
func TestEscaping(t *testing.T) {
	text := `Deliver "Tom & Jerry's <b>Bistro</b>" to 5 < 7 > 3 Main St & Co`
	e := answering(t, dialog.Reply{Text: text, Buttons: buttons("review.4:confirm")})
	user := telegramtest.NewUser(61, "en")
	e.srv.PushUpdate(e.srv.Text(user, "hi"))
	c := e.wait(telegramtest.Method("sendMessage", chatIs(61)))
	if c.Status != http.StatusOK || c.Param("parse_mode") != "HTML" {
		t.Fatalf("status %d, parse_mode %q", c.Status, c.Param("parse_mode"))
	}
	msgs := e.srv.Messages(61)
	if got := msgs[0].Text; got != text {
		t.Fatalf("shown as %q, want %q", got, text)
	}
	if label := msgs[0].ReplyMarkup.InlineKeyboard[0][0].Text; label != "<review.4:confirm>" {
		t.Errorf("button label %q", label)
	}
}

// TestLongText: 10,000 characters arrive in pieces Telegram accepts, with
// nothing lost, the buttons under the last piece.
func TestLongText(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 12000; i++ {
		fmt.Fprintf(&b, "%d. 中性笔 Gel pen 😀 & <more>\n", i)
	}
	text := []rune(b.String())[:10000]
	e := answering(t, dialog.Reply{Text: string(text), Buttons: buttons("g:menu")})
	e.srv.PushUpdate(e.srv.Text(telegramtest.NewUser(62, "en"), "history"))
	e.wait(telegramtest.Method("sendMessage", chatIs(62), func(c telegramtest.Call) bool { return c.Param("reply_markup") != "" }))
	msgs := e.srv.Messages(62)
	if len(msgs) < 3 {
		t.Fatalf("%d messages", len(msgs))
	}
	var got strings.Builder
	for i, m := range msgs {
		if n := len(utf16.Encode([]rune(m.Text))); n > telegramtest.MaxTextLen {
			t.Errorf("piece %d: %d UTF-16 units", i, n)
		}
		if (m.ReplyMarkup != nil) != (i == len(msgs)-1) {
			t.Errorf("piece %d: buttons %v", i, m.ReplyMarkup != nil)
		}
		got.WriteString(m.Text + "\n")
	}
	if strings.Join(strings.Fields(got.String()), " ") != strings.Join(strings.Fields(string(text)), " ") {
		t.Fatal("text changed on the way")
	}
}

// TestPhotos: a photo goes with its caption and buttons, is sent again by
// file_id, and falls back to text when Telegram refuses it; a caption too
// long for a photo follows as text.
func TestPhotos(t *testing.T) {
	photo := dialog.Reply{Text: "Gel pen, 0.5 mm\nPrice: ¥2.50", Image: "https://shop.example.com/pen.jpg", Buttons: buttons("product.3:variant:pen-gel-blk")}
	e := answering(t, photo)
	user := telegramtest.NewUser(63, "en")

	e.srv.PushUpdate(e.srv.Text(user, "/start p_pen-gel"))
	first := e.wait(telegramtest.Method("sendPhoto", chatIs(63), ok))
	if first.Param("photo") != photo.Image || !strings.Contains(first.Param("caption"), "Gel pen") || first.Param("reply_markup") == "" {
		t.Fatalf("sendPhoto %v", first.Params)
	}
	e.srv.PushUpdate(e.srv.Text(user, "/start p_pen-gel"))
	again := e.wait(telegramtest.Method("sendPhoto", chatIs(63), ok, telegramtest.After(first.Seq)))
	if !strings.HasPrefix(again.Param("photo"), "photo-") {
		t.Errorf("second send uploads again: photo=%q", again.Param("photo"))
	}

	e.srv.FailNext("sendPhoto", 1, telegramtest.BadRequest("wrong file identifier/HTTP URL specified"))
	seq := e.srv.LastSeq()
	e.srv.PushUpdate(e.srv.Text(user, "/start p_pen-gel"))
	fallback := e.wait(telegramtest.Method("sendMessage", chatIs(63), ok, telegramtest.After(seq)))
	if !strings.Contains(fallback.Param("text"), "Price: ¥2.50") || fallback.Param("reply_markup") == "" {
		t.Fatalf("fallback %v", fallback.Params)
	}

	long := dialog.Reply{Text: strings.Repeat("A long description. ", 80), Image: photo.Image, Buttons: photo.Buttons}
	e2 := answering(t, long)
	e2.srv.PushUpdate(e2.srv.Text(user, "/start p_notebook"))
	text := e2.wait(telegramtest.Method("sendMessage", chatIs(63), ok))
	pic := e2.srv.Calls("sendPhoto")
	if len(pic) != 1 || pic[0].Param("caption") != "" || pic[0].Seq > text.Seq || text.Param("reply_markup") == "" {
		t.Fatalf("photo %v then text %v", pic, text.Params)
	}
}

// TestEditFallbacks: a step is edited in place when it can be, and sent as
// a new message when the message cannot be edited or is a notification.
func TestEditFallbacks(t *testing.T) {
	step := dialog.Reply{Text: "Choose a category:", Buttons: buttons("categories.2:open:office")}
	e := answering(t, dialog.Reply{Text: "This button is out of date."}, step)
	user := telegramtest.NewUser(64, "en")
	e.srv.PushUpdate(e.srv.Text(user, "/start"))
	e.wait(telegramtest.Method("sendMessage", chatIs(64), func(c telegramtest.Call) bool { return c.Param("reply_markup") != "" }))
	msgs := e.srv.Messages(64)
	stepMsg := msgs[len(msgs)-1]

	// In place, the notice merged above the step.
	u := e.srv.Callback(user, stepMsg, "categories.1:open:office")
	e.srv.PushUpdate(u)
	edit := e.wait(telegramtest.Method("editMessageText", chatIs(64)))
	if m, _ := e.srv.Message(64, stepMsg.MessageID); m.Text != "This button is out of date.\n\nChoose a category:" || edit.Status != http.StatusOK {
		t.Fatalf("edited to %q (status %d)", m.Text, edit.Status)
	}
	// The same again: "not modified" — nothing new is sent.
	seq := e.srv.LastSeq()
	again := e.srv.Callback(user, stepMsg, "categories.1:open:office")
	e.srv.PushUpdate(again)
	e.wait(telegramtest.Method("answerCallbackQuery", param("callback_query_id", again.CallbackQuery.ID), ok))
	e.wait(telegramtest.Method("editMessageText", telegramtest.After(seq)))

	// A message Telegram cannot edit: a new one.
	gone := stepMsg
	gone.MessageID = 9999
	e.srv.PushUpdate(e.srv.Callback(user, gone, "g:menu"))
	failed := e.wait(telegramtest.Method("editMessageText", chatIs(64), func(c telegramtest.Call) bool { return c.Int("message_id") == 9999 && c.Status == 400 }))
	e.wait(telegramtest.Method("sendMessage", chatIs(64), textHas("Choose a category"), telegramtest.After(seq)))
	// The hub handled the chat's callbacks in order, so the "not modified"
	// one was done before the failed edit: it sent nothing.
	for _, c := range e.srv.Calls("sendMessage") {
		if c.Seq > seq && c.Seq < failed.Seq {
			t.Fatalf("an unchanged step was sent again: %v", c.Params)
		}
	}

	// A notification keeps its text: the button opens a new message.
	if err := e.bot.Send(e.ctx, chatKey(64), note("Your order OB-7KX2M9Q has shipped.")); err != nil {
		t.Fatal(err)
	}
	msgs = e.srv.Messages(64)
	notification := msgs[len(msgs)-1]
	if !strings.HasPrefix(notification.Text, "🔔") {
		t.Fatalf("notification %q", notification.Text)
	}
	seq = e.srv.LastSeq()
	e.srv.PushUpdate(e.srv.Callback(user, notification, "g:order:OB-7KX2M9Q"))
	e.wait(telegramtest.Method("sendMessage", chatIs(64), textHas("Choose a category"), telegramtest.After(seq)))
	if m, _ := e.srv.Message(64, notification.MessageID); m.Text != notification.Text {
		t.Fatalf("notification overwritten with %q", m.Text)
	}
	for _, c := range e.srv.Calls("editMessageText") {
		if c.Int("message_id") == int64(notification.MessageID) {
			t.Fatal("notification edited")
		}
	}
}

// TestHandlerFailure: a message whose handling failed without words is
// answered with an apology, and its callback with a short notice.
func TestHandlerFailure(t *testing.T) {
	e := newEnv(t, bot.HandlerFunc(func(context.Context, dialog.Inbound) ([]dialog.Reply, error) {
		panic("the dialog broke")
	}), telegram.Config{PollTimeout: 5 * time.Second})
	e.run()
	user := telegramtest.NewUser(65, "zh-hans")
	e.srv.PushUpdate(e.srv.Text(user, "hi"))
	e.wait(telegramtest.Method("sendMessage", chatIs(65), textHas(dialog.T("zh", "error")), ok))
	on := e.srv.Messages(65)[0]
	u := e.srv.Callback(user, on, "g:menu")
	e.srv.PushUpdate(u)
	c := e.wait(telegramtest.Method("answerCallbackQuery", param("callback_query_id", u.CallbackQuery.ID), ok))
	if c.Param("text") == "" {
		t.Error("callback answered without a notice")
	}
}

// busyHub refuses the first n messages as busy.
type busyHub struct {
	mu  sync.Mutex
	n   int
	hub *bot.Hub
}

func (b *busyHub) Submit(in dialog.Inbound, d bot.Deliver) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n > 0 {
		b.n--
		return bot.ErrBusy
	}
	return b.hub.Submit(in, d)
}

// TestBusyHub: a webhook asks Telegram to retry later; polling waits and
// keeps the order.
func TestBusyHub(t *testing.T) {
	srv := telegramtest.NewServer(t)
	rec := newRecorder(nil)
	hub := bot.NewHub(rec, bot.HubConfig{})
	defer hub.Close(context.Background())
	busy := &busyHub{n: 3, hub: hub}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	hook, err := telegram.New(ctx, telegram.Config{Token: testToken, APIEndpoint: srv.URL(), WebhookURL: "https://example.com/h", WebhookSecret: "k"}, busy)
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(hook.WebhookHandler())
	defer web.Close()
	u := srv.Text(telegramtest.NewUser(66, "en"), "first")
	if code, _ := telegramtest.PostWebhook(web.URL, "k", u); code != http.StatusServiceUnavailable {
		t.Fatalf("busy hub: status %d, want 503", code)
	}
	// Telegram's retry is taken: the busy refusal did not mark it seen.
	busy.mu.Lock()
	busy.n = 0
	busy.mu.Unlock()
	if code, _ := telegramtest.PostWebhook(web.URL, "k", u); code != http.StatusOK {
		t.Fatalf("retry: status %d, want 200", code)
	}
	rec.waitTotal(t, 1)

	busy.mu.Lock()
	busy.n = 2
	busy.mu.Unlock()
	poller, err := telegram.New(ctx, telegram.Config{Token: testToken, APIEndpoint: srv.URL(), PollTimeout: 5 * time.Second}, busy)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- poller.Run(ctx) }()
	user := telegramtest.NewUser(67, "en")
	srv.PushUpdate(srv.Text(user, "a"))
	srv.PushUpdate(srv.Text(user, "b"))
	rec.waitTotal(t, 3)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rec.of("67"), ""); got != "ab" {
		t.Fatalf("handled %q, want ab", got)
	}
}

// TestLocalImages: an image given as a path is uploaded from ImageDir; a
// path leading out of it is never read, and the words still arrive.
func TestLocalImages(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "img"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "img", "pen.jpg"), []byte("\xff\xd8\xff\xe0 not really a JPEG"), 0o644); err != nil {
		t.Fatal(err)
	}
	image := "img/pen.jpg"
	e := newEnv(t, newRecorder(func(in dialog.Inbound) []dialog.Reply {
		return []dialog.Reply{{Text: "Gel pen", Image: image}}
	}), telegram.Config{PollTimeout: 5 * time.Second, ImageDir: dir})
	e.run()
	user := telegramtest.NewUser(68, "en")
	e.srv.PushUpdate(e.srv.Text(user, "pen"))
	up := e.wait(telegramtest.Method("sendPhoto", chatIs(68), ok))
	if up.Files["photo"] != "pen.jpg" || up.Param("caption") != "Gel pen" {
		t.Fatalf("upload %v %v", up.Files, up.Params)
	}

	image = "../" + filepath.Base(dir) + "/img/pen.jpg"
	seq := e.srv.LastSeq()
	e.srv.PushUpdate(e.srv.Text(user, "pen"))
	e.wait(telegramtest.Method("sendMessage", chatIs(68), textHas("Gel pen"), telegramtest.After(seq)))
	if n := len(e.srv.Calls("sendPhoto")); n != 1 {
		t.Fatalf("%d photos sent", n)
	}
}

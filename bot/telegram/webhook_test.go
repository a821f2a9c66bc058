package telegram_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"orderbot/bot/telegram"
	"orderbot/bot/telegram/telegramtest"
	"orderbot/dialog"
)

// gatedHandler answers every message with a button, holding each message
// until the test lets it go when gate is not nil.
type gatedHandler struct{ gate chan struct{} }

func (g *gatedHandler) Handle(ctx context.Context, in dialog.Inbound) ([]dialog.Reply, error) {
	if g.gate != nil && in.Action != "" {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return []dialog.Reply{{Text: "step " + in.Text + in.Action, Buttons: [][]dialog.Button{{{Label: "Next", Action: "next"}}}}}, nil
}

// A pressed button is answered in the webhook's own response: Telegram
// runs the answerCallbackQuery given as the body, and the bot makes no
// request of its own for it.
func TestWebhookAnswersButtonInResponse(t *testing.T) {
	e := newEnv(t, &gatedHandler{}, telegram.Config{WebhookURL: "https://example.com/hook", WebhookSecret: "abc"})
	web := httptest.NewServer(e.bot.WebhookHandler())
	defer web.Close()
	user := telegramtest.NewUser(31, "en")
	tap := buttonShown(t, e, web.URL, user)

	// What the webhook answers, as Telegram reads it.
	body, _ := json.Marshal(tap)
	req, _ := http.NewRequest(http.MethodPost, web.URL, bytes.NewReader(body))
	req.Header.Set(telegramtest.SecretHeader, "abc")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var answer map[string]string
	err = json.NewDecoder(resp.Body).Decode(&answer)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("answer: %d %q %v", resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	if answer["method"] != "answerCallbackQuery" || answer["callback_query_id"] != tap.CallbackQuery.ID || len(answer) != 2 {
		t.Fatalf("webhook answered %v, want answerCallbackQuery for %s", answer, tap.CallbackQuery.ID)
	}
	// The step was edited before the answer came back.
	e.wait(telegramtest.Method("editMessageText", chatIs(user.ID), textHas("step next")))

	// Through the fake, the answer is a call Telegram made for the bot.
	again, err := e.srv.Tap(user, user.ID, telegramtest.Label("Next"))
	if err != nil {
		t.Fatal(err)
	}
	if code, err := e.srv.PostWebhook(web.URL, "abc", again); err != nil || code != http.StatusOK {
		t.Fatalf("tap: status %d, %v", code, err)
	}
	if !e.srv.Answered(again.CallbackQuery.ID) {
		t.Fatal("the button was not answered")
	}
	for _, c := range e.srv.Calls("answerCallbackQuery") {
		if !c.Webhook {
			t.Fatalf("the bot called answerCallbackQuery itself: %+v", c)
		}
	}
}

// When the webhook request gives up before the button was handled, the
// bot answers the button with a request of its own.
func TestWebhookGivenUpAnswersButtonByRequest(t *testing.T) {
	h := &gatedHandler{gate: make(chan struct{})}
	e := newEnv(t, h, telegram.Config{WebhookURL: "https://example.com/hook", WebhookSecret: "abc"})
	// answered receives once the webhook answered a request (or knew it
	// gone): only then is the held button let go, so that the request is
	// surely given up when the answer is ready.
	answered := make(chan struct{}, 4)
	hook := e.bot.WebhookHandler()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hook.ServeHTTP(w, r)
		answered <- struct{}{}
	}))
	defer web.Close()
	user := telegramtest.NewUser(32, "en")
	tap := buttonShown(t, e, web.URL, user)
	<-answered // the text's
	postAndGiveUp(t, web.URL, tap)
	<-answered
	close(h.gate)
	c := e.wait(telegramtest.Method("answerCallbackQuery", param("callback_query_id", tap.CallbackQuery.ID), ok))
	if c.Webhook {
		t.Fatalf("answered in a response nobody read: %+v", c)
	}
}

// buttonShown has user write to the bot through the webhook at url, and
// returns the update of a press of the Next button the bot answers with.
func buttonShown(t *testing.T, e *env, url string, user tgbotapi.User) tgbotapi.Update {
	t.Helper()
	if code, err := e.srv.PostWebhook(url, "abc", e.srv.Text(user, "hi")); err != nil || code != http.StatusOK {
		t.Fatalf("text: status %d, %v", code, err)
	}
	tap, err := e.srv.Tap(user, user.ID, telegramtest.Label("Next"))
	if err != nil {
		t.Fatal(err)
	}
	return tap
}

// postAndGiveUp posts u and hangs up after a moment, as Telegram does when
// the webhook takes too long.
func postAndGiveUp(t *testing.T, url string, u tgbotapi.Update) {
	t.Helper()
	body, _ := json.Marshal(u)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set(telegramtest.SecretHeader, "abc")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the webhook answered %d before the update was handled", resp.StatusCode)
	}
}

// When the webhook request gives up after the button's answer was offered
// to it (the replies were still being sent), the bot sends that answer
// with a request of its own: the button is answered once either way.
func TestWebhookGivenUpAfterTheOfferAnswersByRequest(t *testing.T) {
	e := newEnv(t, &gatedHandler{}, telegram.Config{WebhookURL: "https://example.com/hook", WebhookSecret: "abc", RequestTimeout: time.Second})
	if err := e.bot.Start(e.ctx); err != nil { // its own worker sends the answer
		t.Fatal(err)
	}
	web := httptest.NewServer(e.bot.WebhookHandler())
	defer web.Close()
	user := telegramtest.NewUser(33, "en")
	tap := buttonShown(t, e, web.URL, user)
	// The step's edit hangs: the answer is offered, the replies not sent.
	e.srv.FailNext("editMessageText", 1, telegramtest.Fault{Hang: true})
	postAndGiveUp(t, web.URL, tap)
	c := e.wait(telegramtest.Method("answerCallbackQuery", param("callback_query_id", tap.CallbackQuery.ID), ok))
	if c.Webhook {
		t.Fatalf("answered in a response nobody read: %+v", c)
	}
	if n := len(e.srv.Calls("answerCallbackQuery")); n != 1 {
		t.Fatalf("the button was answered %d times", n)
	}
}

package telegram

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"orderbot/bot"
	"orderbot/dialog"
)

// SecretHeader carries the webhook's secret token on Telegram's requests.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// maxWebhookBody bounds one posted update; real ones are a few KiB.
const maxWebhookBody = 1 << 20

// WebhookHandler receives the updates Telegram posts to the webhook. It
// answers:
//
//   - 405 to anything but POST;
//   - 401 when the secret token header is missing or wrong (compared in
//     constant time), having processed nothing; also to every request when
//     no secret is configured;
//   - 413 for a body over 1 MiB, 400 for one that is not an update;
//   - 200 once the update was handled and its replies sent, or, when that
//     takes longer than WebhookWait, once it was handed to the hub: an
//     update is confirmed to Telegram when it can no longer be lost with
//     this process (a replica killed before answering is retried by
//     Telegram, and taken by another); also 200 for a duplicate (a retry
//     of an update already taken) and for updates the bot ignores. The 200
//     of a pressed button carries its answerCallbackQuery as the body, a
//     Bot API call Telegram makes on the bot's behalf, which saves a
//     request per button (see hookAnswer);
//   - 503 with Retry-After when the hub has no room or is shutting down.
//     Telegram retries a failed delivery later, and the hub checks room
//     before remembering an id, so the retry is taken: nothing is lost and
//     the sender is slowed down instead of the process filling up.
func (b *Bot) WebhookHandler() http.Handler {
	want := sha256.Sum256([]byte(b.cfg.WebhookSecret))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		// Hashing first makes the comparison independent of the length of
		// what was sent.
		got := sha256.Sum256([]byte(r.Header.Get(SecretHeader)))
		if b.cfg.WebhookSecret == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			if now := time.Now().Unix(); b.refused.Swap(now) < now-60 {
				// At most once a minute: anyone can send these.
				b.log.Warn("webhook request refused: missing or wrong secret token")
			}
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
		if err != nil {
			if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
				http.Error(w, "update too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "malformed update", http.StatusBadRequest)
			return
		}
		var u tgbotapi.Update
		if err := json.Unmarshal(raw, &u); err != nil {
			var id struct {
				UpdateID int `json:"update_id"`
			}
			if json.Unmarshal(raw, &id) != nil || id.UpdateID <= 0 {
				http.Error(w, "malformed update", http.StatusBadRequest)
				return
			}
			// Valid JSON the library cannot read (a newer Bot API): refusing
			// it would only make Telegram send it again.
			b.log.Warn("update not understood; skipped", "update", id.UpdateID, "err", err)
			w.WriteHeader(http.StatusOK)
			return
		}
		if u.UpdateID <= 0 {
			http.Error(w, "update without update_id", http.StatusBadRequest)
			return
		}
		status, answer := b.accept(r.Context(), u)
		switch {
		case status == http.StatusServiceUnavailable:
			w.Header().Set("Retry-After", "1")
		case answer != nil:
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		w.Write(answer)
	})
}

// hookAnswer lets the answer to a pressed button ride on the webhook
// request that brought it: Telegram runs a Bot API method given as the
// answer to a webhook request ("making requests when getting updates").
// Nothing tells whether that call succeeded, which suits
// answerCallbackQuery alone: at worst the button's spinner runs until
// Telegram's own timeout. The delivery offers the answer; the request takes
// it when it answers, and after that every offer is refused, so the
// delivery calls the Bot API itself (the request gave up waiting). An
// answer offered to a request that then gave up is sent by the adapter's
// own worker.
type hookAnswer struct {
	mu      sync.Mutex
	closed  bool
	offered bool
	notice  string // the answer's text
}

// offer hands the request the answer to its button, with notice; it
// reports false, and keeps nothing, when the request no longer waits (or
// there is no request: a nil hookAnswer).
func (h *hookAnswer) offer(notice string) bool {
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.offered, h.notice = true, notice
	return true
}

// take closes the offer and returns what was offered: ok is false when
// nothing was (or there is no request: a nil hookAnswer).
func (h *hookAnswer) take() (notice string, ok bool) {
	if h == nil {
		return "", false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	return h.notice, h.offered
}

// answerBody is the webhook answer that answers callback query id.
func answerBody(id, notice string) []byte {
	body, _ := json.Marshal(struct { // strings always marshal
		Method string `json:"method"`
		ID     string `json:"callback_query_id"`
		Text   string `json:"text,omitempty"`
	}{"answerCallbackQuery", id, notice})
	return body
}

// WebhookWait bounds how long a webhook request waits for its update to
// be handled: Telegram gives up on an answer after about a minute, and a
// queue that long means the update is safer confirmed than retried. The
// HTTP server's write timeout must be longer.
const WebhookWait = 20 * time.Second

// accept hands one posted update on, waits for it to be handled (at most
// WebhookWait, and while the request lasts), and returns the HTTP status
// to answer, and the body: the answer to a pressed button, or nil.
func (b *Bot) accept(ctx context.Context, u tgbotapi.Update) (int, []byte) {
	inc := parseUpdate(u, b.self, b.cfg.Now())
	if inc.kind != submit {
		b.handleLocally(inc)
		return http.StatusOK, nil
	}
	if !b.recordPayment(context.Background(), inc) {
		return http.StatusServiceUnavailable, nil // Telegram delivers it again
	}
	if inc.callbackID != "" {
		inc.hook = &hookAnswer{}
	}
	handled := make(chan struct{})
	deliver := b.deliverTo(inc)
	err := b.hub.Submit(inc.in, func(ctx context.Context, in dialog.Inbound, replies []dialog.Reply, err error) {
		defer close(handled)
		deliver(ctx, in, replies, err)
	})
	switch {
	case err == nil:
		wait := time.NewTimer(WebhookWait)
		defer wait.Stop()
		select {
		case <-handled:
		case <-wait.C:
		case <-ctx.Done():
			// Nobody reads the answer now: later offers are refused, so
			// the delivery answers the button itself, and one already
			// offered is sent here.
			if notice, ok := inc.hook.take(); ok {
				b.answerLater(inc.callbackID, notice)
			}
			return http.StatusOK, nil
		}
		if notice, ok := inc.hook.take(); ok {
			return http.StatusOK, answerBody(inc.callbackID, notice)
		}
		return http.StatusOK, nil
	case errors.Is(err, bot.ErrDuplicate):
		return http.StatusOK, nil
	case errors.Is(err, bot.ErrBusy), errors.Is(err, bot.ErrClosed):
		b.log.Warn("webhook update refused for now; Telegram will retry", "conv", inc.in.Key.String(), "err", err)
		return http.StatusServiceUnavailable, nil
	default:
		b.log.Error("webhook update not submitted", "conv", inc.in.Key.String(), "err", err)
		return http.StatusInternalServerError, nil
	}
}

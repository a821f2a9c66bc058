package slack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"orderbot/bot"
	"orderbot/dialog"
)

// maxBody bounds a request Slack sends; real ones are a few kilobytes.
const maxBody = 1 << 20

// readSigned reads a request's body and checks its signature. On false the
// answer was written (405, 413, 401) and nothing else may be done.
func (b *Bot) readSigned(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	if err := verify(r.Header, body, b.cfg.SigningSecret, b.cfg.Now()); err != nil {
		if now := time.Now().Unix(); b.refused.Swap(now) < now-60 {
			// At most once a minute: anyone can send these.
			b.log.Warn("Slack request refused", "path", r.URL.Path, "err", err)
		}
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return nil, false
	}
	return body, true
}

// EventsHandler serves the Events API request URL (/slack/events): Slack's
// URL verification, and direct messages to the app, which go to the hub.
// It answers:
//
//   - 405, 413, 401 and 400 to a request that is not a signed event;
//   - the challenge to a URL verification;
//   - 200 to a direct message once it was handled and its replies sent,
//     or, when that takes longer than Config.AckWithin from the request's
//     arrival, once it was queued in this process: Slack gives up on an
//     answer after 3 seconds and sends the event again, so past the budget
//     the event is confirmed once queued. A replica killed before
//     answering leaves the event unconfirmed, and Slack's retry is taken
//     (the hub records an event_id only once it was handled);
//   - 200 at once to a repeat (X-Slack-Retry-Num) of an event queued or
//     handled, dropped by its event_id, and to events the bot ignores or
//     answers on its own (mentions, the Home tab);
//   - 503 when the hub has no room or is shutting down: Slack retries any
//     answer but a 2xx (at once, after a minute, after five), and the hub
//     checks room before remembering an id, so the retry is taken.
func (b *Bot) EventsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := b.ackContext(r.Context())
		defer cancel()
		body, ok := b.readSigned(w, r)
		if !ok {
			return
		}
		var outer struct {
			Type      string `json:"type"`
			Challenge string `json:"challenge"`
			EventID   string `json:"event_id"`
		}
		if err := json.Unmarshal(body, &outer); err != nil {
			http.Error(w, "malformed event", http.StatusBadRequest)
			return
		}
		switch outer.Type {
		case slackevents.URLVerification:
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, outer.Challenge)
			return
		case slackevents.CallbackEvent:
		default:
			w.WriteHeader(http.StatusOK) // app_rate_limited and the like: nothing to do
			return
		}
		ev, err := slackevents.ParseEvent(body, slackevents.OptionNoVerifyToken())
		if err != nil {
			// An event type the library does not know: refusing it would
			// only make Slack send it again.
			b.log.Debug("event not understood; skipped", "err", err)
			w.WriteHeader(http.StatusOK)
			return
		}
		a := b.acceptEvent(ctx, outer.EventID, ev)
		a.wait(ctx)
		w.WriteHeader(a.status)
	})
}

// ackContext bounds what is done before a request from Slack is answered
// to Config.AckWithin from now, when the request arrived.
func (b *Bot) ackContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.cfg.AckWithin)
}

// ack is how to answer one request or envelope from Slack.
type ack struct {
	status  int
	payload any // the answer's JSON body; nil: none
	// handled, when a message went to the hub, is closed once it was
	// handled and its replies sent; nil when there is nothing to wait for.
	handled <-chan struct{}
}

// ackNow is an ack with nothing to wait for.
func ackNow(status int, payload any) ack { return ack{status: status, payload: payload} }

// wait returns once the message a is about was handled, or when ctx (the
// request's budget) ends, whichever comes first.
func (a ack) wait(ctx context.Context) {
	if a.handled == nil {
		return
	}
	select {
	case <-a.handled:
	case <-ctx.Done():
	}
}

// acceptEvent hands one event on and returns how to answer it. ctx bounds
// the look-ups to the answer's budget.
func (b *Bot) acceptEvent(ctx context.Context, id string, ev slackevents.EventsAPIEvent) ack {
	switch e := ev.InnerEvent.Data.(type) {
	case *slackevents.MessageEvent:
		in, ok := b.directMessage(ctx, id, e)
		if !ok {
			return ackNow(http.StatusOK, nil)
		}
		return b.submit(in, delivery{channel: e.Channel})
	case *slackevents.AppMentionEvent:
		if e.User != "" && e.User != b.self && e.BotID == "" {
			b.hint(e.Channel, e.User)
		}
	case *slackevents.AppHomeOpenedEvent:
		if e.Tab == "home" && e.User != "" && e.Channel != "" {
			b.people.rememberDM(e.User, e.Channel)
			b.publishHome(dialog.Key{Channel: Channel, Chat: e.Channel, User: e.User})
		}
	}
	return ackNow(http.StatusOK, nil)
}

// directMessage reads a message event: only what a person wrote to the app
// in a direct message, new (not an edit, a deletion or a bot's message).
func (b *Bot) directMessage(ctx context.Context, id string, e *slackevents.MessageEvent) (dialog.Inbound, bool) {
	if e.ChannelType != "im" || e.SubType != "" || e.BotID != "" || e.User == "" || e.User == b.self || id == "" {
		return dialog.Inbound{}, false
	}
	text := strings.TrimSpace(e.Text)
	if text == "" {
		return dialog.Inbound{}, false
	}
	return dialog.Inbound{
		ID:   id,
		Key:  dialog.Key{Channel: Channel, Chat: e.Channel, User: e.User},
		Text: unescape(text),
		Lang: b.person(ctx, e.User).Locale,
		At:   b.cfg.Now(),
	}, true
}

// unescape undoes the three escapes Slack applies to message text.
func unescape(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

// InteractivityHandler serves the interactivity request URL
// (/slack/interactivity, and the options load URL): buttons pressed on the
// app's messages, the order form's type-ahead, choices and submissions,
// and the reject form. A pressed button goes to the hub and is answered
// (an empty 200, which is all Slack reads of it) once it was handled and
// the message it was on updated, or once Config.AckWithin from the
// request's arrival has passed, when it is confirmed queued. A submitted
// form is answered the same way, which closes the modal; its field errors
// are answered at once, in the modal. The type-ahead and a product chosen
// in the form are answered once the options are found or the modal is
// rebuilt. Slack does not send a block action or a submission again, so
// a 503 (the hub full) shows the user an error and they may try again.
func (b *Bot) InteractivityHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := b.ackContext(r.Context())
		defer cancel()
		body, ok := b.readSigned(w, r)
		if !ok {
			return
		}
		form, err := parseForm(body)
		if err != nil {
			http.Error(w, "malformed request", http.StatusBadRequest)
			return
		}
		var cb slackapi.InteractionCallback
		if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
			http.Error(w, "malformed payload", http.StatusBadRequest)
			return
		}
		a := b.interaction(ctx, cb)
		a.wait(ctx)
		answer(w, a.status, a.payload)
	})
}

// interaction handles a button, a type-ahead or a form submission and
// returns how to answer Slack. ctx bounds the work to the answer's budget.
func (b *Bot) interaction(ctx context.Context, cb slackapi.InteractionCallback) ack {
	switch {
	case cb.Type == slackapi.InteractionTypeBlockSuggestion:
		return ackNow(http.StatusOK, b.suggest(ctx, cb))
	case cb.Type == slackapi.InteractionTypeBlockActions && cb.View.CallbackID == orderCallback:
		return ackNow(b.chooseProduct(ctx, cb), nil)
	case cb.Type == slackapi.InteractionTypeViewSubmission && cb.View.CallbackID == orderCallback:
		return b.submitOrderForm(ctx, cb)
	case cb.Type == slackapi.InteractionTypeViewSubmission && cb.View.CallbackID == rejectCallback:
		return b.submitRejectForm(ctx, cb)
	}
	return b.acceptInteraction(ctx, cb)
}

// acceptInteraction hands a pressed button on and returns how to answer.
func (b *Bot) acceptInteraction(ctx context.Context, cb slackapi.InteractionCallback) ack {
	if cb.Type != slackapi.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) == 0 {
		return ackNow(http.StatusOK, nil)
	}
	act := cb.ActionCallback.BlockActions[0]
	if act.Value == "" {
		act.Value = act.SelectedOption.Value // a choice from a drop-down
	}
	channel := cb.Channel.ID
	if channel == "" {
		channel = cb.Container.ChannelID
	}
	home := false
	if channel == "" && cb.Container.Type == "view" && cb.User.ID != "" {
		// A button on the Home tab: the answer goes to the direct message,
		// and the tab is published again once it is handled.
		channel = b.dmChannel(ctx, cb.User.ID)
		home = true
	}
	if cb.User.ID == "" || channel == "" || act.Value == "" || act.ActionTs == "" {
		return ackNow(http.StatusOK, nil)
	}
	in := dialog.Inbound{
		ID:     "act:" + act.ActionTs + ":" + cb.User.ID,
		Key:    dialog.Key{Channel: Channel, Chat: channel, User: cb.User.ID},
		Action: act.Value,
		Lang:   b.person(ctx, cb.User.ID).Locale,
		At:     b.cfg.Now(),
	}
	if strings.HasPrefix(act.Value, rejectPrefix) && cb.TriggerID != "" && b.openRejectForm(ctx, cb.TriggerID, act.Value, in.Lang) == nil {
		return ackNow(http.StatusOK, nil) // the reason comes with the form's submission
	}
	d := delivery{channel: channel, home: home}
	switch {
	case !strings.HasPrefix(channel, "D"):
		// A button in a shared channel (the fulfilment desk): the answer
		// is for the one who pressed it.
		d.ephemeralTo = cb.User.ID
	case cb.Container.MessageTs != "" && editable(cb.Message.Text):
		d.ts = cb.Container.MessageTs
	}
	return b.submit(in, d)
}

// editable reports whether a message the user pressed a button on may be
// replaced by the next step: not a notification, not an order card.
func editable(text string) bool {
	return !strings.HasPrefix(text, notificationMark) && !strings.HasPrefix(text, dialog.CardMark)
}

// submit gives a message to the hub and returns how to answer Slack:
// 200 once it was handled (ack.handled tells when) or at once for a
// duplicate, 503 when the hub has no room or is shutting down.
func (b *Bot) submit(in dialog.Inbound, d delivery) ack {
	handled := make(chan struct{})
	deliver := b.deliverTo(d)
	err := b.hub.Submit(in, func(ctx context.Context, in dialog.Inbound, replies []dialog.Reply, err error) {
		defer close(handled)
		deliver(ctx, in, replies, err)
	})
	switch {
	case err == nil:
		return ack{status: http.StatusOK, handled: handled}
	case errors.Is(err, bot.ErrDuplicate):
		return ackNow(http.StatusOK, nil)
	case errors.Is(err, bot.ErrBusy), errors.Is(err, bot.ErrClosed):
		// Slack sends an event again; a user sees an error and presses again.
		b.log.Warn("Slack request refused for now", "conv", in.Key.String(), "err", err)
		return ackNow(http.StatusServiceUnavailable, nil)
	default:
		b.log.Error("Slack request not submitted", "conv", in.Key.String(), "err", err)
		return ackNow(http.StatusInternalServerError, nil)
	}
}

// delivery is where a message's replies go: the channel, and the message
// to update in place when a button was pressed on it.
type delivery struct {
	channel     string
	ts          string
	ephemeralTo string // answer only this user, in the channel
	home        bool   // pressed on the Home tab: publish it again afterwards
}

// deliverTo returns the hub's delivery callback for one message. It runs
// on the hub's worker, in the conversation's order.
func (b *Bot) deliverTo(d delivery) bot.Deliver {
	return func(ctx context.Context, in dialog.Inbound, replies []dialog.Reply, err error) {
		if len(replies) == 0 {
			if err == nil {
				return
			}
			replies = []dialog.Reply{{Text: dialog.T(dialog.NormalizeLang(in.Lang), "error")}}
		}
		if err := b.reply(ctx, d, replies); err != nil {
			b.log.Warn("reply not delivered", "conv", in.Key.String(), "err", err)
		}
		if d.home {
			// A decision taken on the tab shows there at once.
			b.publishHome(in.Key)
		}
	}
}

// reply shows the replies: in place of the message whose button was
// pressed, its notices merged above the new step, when it can; as new
// messages otherwise.
func (b *Bot) reply(ctx context.Context, d delivery, replies []dialog.Reply) error {
	if d.ephemeralTo != "" {
		for _, m := range compose(replies) {
			err := b.call(ctx, "chat.postEphemeral", replyRetry, func(ctx context.Context) error {
				_, err := b.api.PostEphemeralContext(ctx, d.channel, d.ephemeralTo, slackapi.MsgOptionText(m.text, false), slackapi.MsgOptionBlocks(m.blocks...))
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
	if d.ts != "" {
		if m, ok := merged(replies); ok {
			err := b.update(ctx, d.channel, d.ts, m, replyRetry)
			if err == nil {
				return nil
			}
			b.log.Debug("update in place failed; posting", "method", "chat.update", "err", err)
		}
	}
	for _, m := range compose(replies) {
		if _, _, err := b.post(ctx, d.channel, m, replyRetry); err != nil {
			return err
		}
	}
	return nil
}

// merged is the replies as one message, the notices' texts above the last
// reply (the step) with its buttons, when they fit in one.
func merged(replies []dialog.Reply) (message, bool) {
	step := replies[len(replies)-1]
	var parts []string
	for _, r := range replies[:len(replies)-1] {
		if len(r.Buttons) > 0 || r.Image != "" {
			return message{}, false
		}
		if t := strings.TrimSpace(r.Text); t != "" {
			parts = append(parts, t)
		}
	}
	if t := strings.TrimSpace(step.Text); t != "" {
		parts = append(parts, t)
	}
	step.Text = strings.Join(parts, "\n\n")
	msgs := compose([]dialog.Reply{step})
	if len(msgs) != 1 {
		return message{}, false
	}
	return msgs[0], true
}

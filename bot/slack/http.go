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
// Every request is answered at once, before the message is handled, well
// within Slack's 3 seconds; one the hub has no room for is answered 503 so
// that Slack sends it again, and repeats (X-Slack-Retry-Num) are dropped by
// their event_id.
func (b *Bot) EventsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		w.WriteHeader(b.acceptEvent(outer.EventID, ev))
	})
}

// acceptEvent hands one event on and returns the HTTP status to answer.
func (b *Bot) acceptEvent(id string, ev slackevents.EventsAPIEvent) int {
	switch e := ev.InnerEvent.Data.(type) {
	case *slackevents.MessageEvent:
		in, ok := b.directMessage(id, e)
		if !ok {
			return http.StatusOK
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
	return http.StatusOK
}

// directMessage reads a message event: only what a person wrote to the app
// in a direct message, new (not an edit, a deletion or a bot's message).
func (b *Bot) directMessage(id string, e *slackevents.MessageEvent) (dialog.Inbound, bool) {
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
		Lang: b.person(context.Background(), e.User).Locale,
		At:   b.cfg.Now(),
	}, true
}

// unescape undoes the three escapes Slack applies to message text.
func unescape(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

// InteractivityHandler serves the interactivity request URL
// (/slack/interactivity): buttons pressed on the app's messages. Each is
// acknowledged at once and handled afterwards; the message the button was
// on is then updated in place.
func (b *Bot) InteractivityHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		status, payload := b.interaction(r.Context(), cb)
		answer(w, status, payload)
	})
}

// interaction handles a button, a type-ahead or a form submission and
// returns the status and the payload to answer Slack with.
func (b *Bot) interaction(ctx context.Context, cb slackapi.InteractionCallback) (int, any) {
	ctx, cancel := context.WithTimeout(ctx, ackBudget)
	defer cancel()
	switch {
	case cb.Type == slackapi.InteractionTypeBlockSuggestion:
		return http.StatusOK, b.suggest(ctx, cb)
	case cb.Type == slackapi.InteractionTypeBlockActions && cb.View.CallbackID == orderCallback:
		return b.chooseProduct(ctx, cb), nil
	case cb.Type == slackapi.InteractionTypeViewSubmission && cb.View.CallbackID == orderCallback:
		return b.submitOrderForm(ctx, cb)
	case cb.Type == slackapi.InteractionTypeViewSubmission && cb.View.CallbackID == rejectCallback:
		return b.submitRejectForm(ctx, cb)
	}
	return b.acceptInteraction(ctx, cb), nil
}

// acceptInteraction hands a pressed button on and returns the HTTP status
// to answer.
func (b *Bot) acceptInteraction(ctx context.Context, cb slackapi.InteractionCallback) int {
	if cb.Type != slackapi.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) == 0 {
		return http.StatusOK
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
		return http.StatusOK
	}
	in := dialog.Inbound{
		ID:     "act:" + act.ActionTs + ":" + cb.User.ID,
		Key:    dialog.Key{Channel: Channel, Chat: channel, User: cb.User.ID},
		Action: act.Value,
		Lang:   b.person(ctx, cb.User.ID).Locale,
		At:     b.cfg.Now(),
	}
	if strings.HasPrefix(act.Value, rejectPrefix) && cb.TriggerID != "" && b.openRejectForm(ctx, cb.TriggerID, act.Value, in.Lang) == nil {
		return http.StatusOK // the reason comes with the form's submission
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

// submit gives a message to the hub and returns the HTTP status to answer.
func (b *Bot) submit(in dialog.Inbound, d delivery) int {
	err := b.hub.Submit(in, b.deliverTo(d))
	switch {
	case err == nil, errors.Is(err, bot.ErrDuplicate):
		return http.StatusOK
	case errors.Is(err, bot.ErrBusy), errors.Is(err, bot.ErrClosed):
		b.log.Warn("Slack request refused for now; Slack will retry", "conv", in.Key.String(), "err", err)
		return http.StatusServiceUnavailable
	default:
		b.log.Error("Slack request not submitted", "conv", in.Key.String(), "err", err)
		return http.StatusInternalServerError
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

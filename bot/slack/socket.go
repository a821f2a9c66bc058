package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// RunSocketMode receives Slack's events and button presses over a Socket
// Mode connection, opened with the app-level token (xapp-…), until ctx is
// done: no public URL is needed. Each envelope is handled as its HTTP
// request would be and acknowledged as it would be answered: one whose
// message went to the hub once that message was handled and its replies
// sent, or once Config.AckWithin from when the envelope was taken has
// passed (it is then confirmed queued), others at once. One the hub had no
// room for is left unacknowledged, and Slack delivers it again. The
// library reconnects when Slack asks it to or the connection drops.
func (b *Bot) RunSocketMode(ctx context.Context, appToken string) error {
	if appToken == "" {
		return errors.New("slack: Socket Mode needs an app-level token")
	}
	api := slackapi.New(b.cfg.Token,
		slackapi.OptionAppLevelToken(appToken),
		slackapi.OptionAPIURL(b.cfg.APIURL),
		slackapi.OptionHTTPClient(&http.Client{Timeout: 2 * b.cfg.RequestTimeout}),
	)
	client := socketmode.New(api)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.consume(ctx, client)
	}()
	err := client.RunContext(ctx)
	stop()
	<-done
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("slack: socket mode: %w", sanitize(err))
}

// maxPendingAcks bounds the envelopes waiting for their message to be
// handled before they are acknowledged. Past it an envelope is
// acknowledged at once, its message queued: the receive loop never waits.
// At shutdown the connection closes with the envelopes still waiting
// unacknowledged; Slack delivers them again, and the messages handled
// meanwhile are dropped as duplicates.
const maxPendingAcks = 64

// pendingAck is an envelope to acknowledge once its message was handled
// or its budget (ctx) ran out.
type pendingAck struct {
	ctx      context.Context
	cancel   context.CancelFunc
	envelope string
	ack      ack
}

// consume handles the client's events until ctx is done. Messages go to
// the hub from this one loop, in the order Slack sent them, so one
// conversation's stay in order; the envelopes that wait for their message
// to be handled go to ackWhenHandled, so the loop goes on to the next.
func (b *Bot) consume(ctx context.Context, client *socketmode.Client) {
	pending := make(chan pendingAck, maxPendingAcks)
	acked := make(chan struct{})
	go func() {
		defer close(acked)
		b.ackWhenHandled(ctx, client, pending)
	}()
	defer func() {
		close(pending)
		<-acked
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case evt, ok := <-client.Events:
			if !ok {
				return
			}
			b.onSocketEvent(ctx, client, evt, pending)
		}
	}
}

// ackWhenHandled acknowledges the envelopes given in pending, oldest first,
// each once its message was handled or its budget ran out. Their budgets
// end in the order they were given, so waiting for an older one never
// delays a newer one past its own.
func (b *Bot) ackWhenHandled(ctx context.Context, client *socketmode.Client, pending <-chan pendingAck) {
	for p := range pending {
		p.ack.wait(p.ctx)
		p.cancel()
		if err := client.AckCtx(ctx, p.envelope, p.ack.payload); err != nil {
			b.log.Warn("Socket Mode envelope not acknowledged", "err", err)
		}
	}
}

// onSocketEvent handles one event from the client: envelopes are handled
// within Config.AckWithin from now and acknowledged, at once or, when
// their message went to the hub, through pending.
func (b *Bot) onSocketEvent(ctx context.Context, client *socketmode.Client, evt socketmode.Event, pending chan<- pendingAck) {
	actx, cancel := b.ackContext(ctx)
	a := ackNow(http.StatusOK, nil)
	switch evt.Type {
	case socketmode.EventTypeConnected:
		b.log.Info("Socket Mode connected")
	case socketmode.EventTypeInvalidAuth:
		b.log.Error("Socket Mode: Slack refused the app-level token")
	case socketmode.EventTypeConnectionError:
		var err error
		if ce, ok := evt.Data.(*slackapi.ConnectionErrorEvent); ok {
			err = sanitize(ce.ErrorObj)
		}
		b.log.Warn("Socket Mode connection failed; reconnecting", "err", err)
	case socketmode.EventTypeEventsAPI:
		ev, ok := evt.Data.(slackevents.EventsAPIEvent)
		if !ok {
			break
		}
		if cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent); ok {
			a = b.acceptEvent(actx, cb.EventID, ev)
		}
	case socketmode.EventTypeInteractive:
		if cb, ok := evt.Data.(slackapi.InteractionCallback); ok {
			a = b.interaction(actx, cb)
		}
	case socketmode.EventTypeSlashCommand:
		if c, ok := evt.Data.(slackapi.SlashCommand); ok && c.UserID != "" && c.TriggerID != "" {
			a = ackNow(http.StatusOK, b.command(actx, c.UserID, c.TriggerID, c.Command, c.Text))
		}
	}
	if evt.Request == nil || evt.Request.EnvelopeID == "" {
		cancel()
		return
	}
	if a.status != http.StatusOK {
		cancel()
		b.log.Warn("Socket Mode envelope not acknowledged; Slack will deliver it again", "type", string(evt.Type))
		return
	}
	if a.handled != nil {
		select {
		case pending <- pendingAck{ctx: actx, cancel: cancel, envelope: evt.Request.EnvelopeID, ack: a}:
			return
		default:
			// Too many wait already: this one is confirmed queued, rather
			// than holding up the envelopes behind it past Slack's limit.
		}
	}
	cancel()
	if err := client.AckCtx(ctx, evt.Request.EnvelopeID, a.payload); err != nil {
		b.log.Warn("Socket Mode envelope not acknowledged", "err", err)
	}
}

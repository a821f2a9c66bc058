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
// request would be and acknowledged once the hub took it; one the hub had
// no room for is left unacknowledged, and Slack delivers it again. The
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

// consume handles the client's events until ctx is done.
func (b *Bot) consume(ctx context.Context, client *socketmode.Client) {
	for {
		select {
		case <-ctx.Done():
			return
		case evt, ok := <-client.Events:
			if !ok {
				return
			}
			b.onSocketEvent(ctx, client, evt)
		}
	}
}

func (b *Bot) onSocketEvent(ctx context.Context, client *socketmode.Client, evt socketmode.Event) {
	status := http.StatusOK
	var payload any
	switch evt.Type {
	case socketmode.EventTypeConnected:
		b.log.Info("Socket Mode connected")
		return
	case socketmode.EventTypeInvalidAuth:
		b.log.Error("Socket Mode: Slack refused the app-level token")
		return
	case socketmode.EventTypeConnectionError:
		var err error
		if ce, ok := evt.Data.(*slackapi.ConnectionErrorEvent); ok {
			err = sanitize(ce.ErrorObj)
		}
		b.log.Warn("Socket Mode connection failed; reconnecting", "err", err)
		return
	case socketmode.EventTypeEventsAPI:
		ev, ok := evt.Data.(slackevents.EventsAPIEvent)
		if !ok {
			break
		}
		if cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent); ok {
			status = b.acceptEvent(cb.EventID, ev)
		}
	case socketmode.EventTypeInteractive:
		if cb, ok := evt.Data.(slackapi.InteractionCallback); ok {
			status, payload = b.interaction(ctx, cb)
		}
	case socketmode.EventTypeSlashCommand:
		if c, ok := evt.Data.(slackapi.SlashCommand); ok && c.UserID != "" && c.TriggerID != "" {
			payload = b.command(ctx, c.UserID, c.TriggerID, c.Command, c.Text)
		}
	}
	if evt.Request == nil || evt.Request.EnvelopeID == "" {
		return
	}
	if status != http.StatusOK {
		b.log.Warn("Socket Mode envelope not acknowledged; Slack will deliver it again", "type", string(evt.Type))
		return
	}
	if err := client.AckCtx(ctx, evt.Request.EnvelopeID, payload); err != nil {
		b.log.Warn("Socket Mode envelope not acknowledged", "err", err)
	}
}

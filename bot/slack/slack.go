// Package slack is the Slack channel: employees order by direct message to
// the app, over the Events API and interactivity requests that Slack signs
// and the adapter verifies. Replies are Block Kit messages whose buttons
// carry the dialog's actions; a pressed button's message is updated in
// place. Status notifications and order cards go out paced to Slack's one
// message a second per channel.
package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	slackapi "github.com/slack-go/slack"

	"orderbot/bot"
	"orderbot/dialog"
)

// defaultAckWithin is Config.AckWithin's default: Slack waits 3 seconds
// for an answer, a trigger lives 3 seconds, and the answer must still
// travel back.
const defaultAckWithin = 2500 * time.Millisecond

// Channel is the channel name of Slack conversations.
const Channel = "slack"

// DefaultAPIURL is Slack's Web API; the method name is appended.
const DefaultAPIURL = "https://slack.com/api/"

// Config configures a Bot. Zero fields take their defaults.
type Config struct {
	// Token is the app's bot token (xoxb-…). Required.
	Token string
	// SigningSecret verifies that requests come from Slack: required for
	// the HTTP handlers (without it they refuse every request), not for
	// Socket Mode.
	SigningSecret string
	// APIURL is the Web API's base URL, ending in "/" (the method name is
	// appended). Default: Slack's.
	APIURL string
	// RequestTimeout bounds each Web API call. Default 10s.
	RequestTimeout time.Duration
	// AckWithin bounds how long Slack waits for the answer to a request or
	// a Socket Mode envelope, counted from when it arrived: the look-ups
	// before a message is taken, opening a modal, and then waiting for the
	// message to be handled and its replies sent. Slack gives up on an
	// answer after 3 seconds (and sends an event again), and a trigger_id
	// lives as long, so more than about 2.5s risks both. Default 2.5s.
	AckWithin time.Duration
	// PerChannelInterval is the least time between two notifications to
	// one channel. Default 1s (Slack's limit for posting messages).
	PerChannelInterval time.Duration
	// GlobalRate is the most notifications per second overall. Default 20.
	GlobalRate int
	// SharedLimit, when set, makes PerChannelInterval, GlobalRate and the
	// pauses after a 429 hold for every replica sharing it together
	// (redisstore.Limiter), not for each. Nil: each replica paces itself.
	SharedLimit bot.SharedLimit
	// Cards remembers which message shows each order's card, so that it is
	// updated in place. Default: kept in this process only.
	Cards bot.Cards
	// Forms is the order form behind /order (dialog.Engine implements
	// it); nil answers /order with a note that it is not available.
	Forms Forms
	// Home renders a user's App Home tab (dialog.Engine implements it); nil
	// leaves the tab alone.
	Home Home
	// Logger receives operator logs: never message text, names, addresses
	// or the tokens. Default: discard.
	Logger *slog.Logger
	// Now is the clock for request signatures and message times. Default
	// time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	if !strings.HasSuffix(c.APIURL, "/") {
		c.APIURL += "/"
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.AckWithin <= 0 {
		c.AckWithin = defaultAckWithin
	}
	if c.PerChannelInterval <= 0 {
		c.PerChannelInterval = time.Second
	}
	if c.GlobalRate <= 0 {
		c.GlobalRate = 20
	}
	if c.Cards == nil {
		c.Cards = &bot.MemoryCards{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Home is what the App Home tab shows: a user's overview, as replies.
type Home interface {
	Home(ctx context.Context, key dialog.Key) ([]dialog.Reply, error)
}

var _ Home = (*dialog.Engine)(nil)

// Bot is the Slack channel. It implements bot.Sender.
type Bot struct {
	cfg     Config
	hub     bot.Submitter
	log     *slog.Logger
	api     *slackapi.Client
	self    string // the bot's user id
	pace    *bot.Pacer[string]
	hints   chan struct{} // the adapter's own short answers running at once
	people  people        // users looked up
	refused atomic.Int64  // when a refused request was last logged, Unix seconds
}

var _ bot.Sender = (*Bot)(nil)

// startAttempts is how often auth.test is tried at start on transient errors.
const startAttempts = 5

// New checks the token with auth.test: a token Slack refuses fails at once,
// transient errors are retried a few times.
func New(ctx context.Context, cfg Config, hub bot.Submitter) (*Bot, error) {
	cfg = cfg.withDefaults()
	switch {
	case cfg.Token == "":
		return nil, errors.New("slack: no bot token")
	case hub == nil:
		return nil, errors.New("slack: no hub")
	}
	if u, err := url.Parse(cfg.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("slack: the API URL %q is not an http(s) URL", cfg.APIURL)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 32
	client := &http.Client{Transport: transport, Timeout: 2 * cfg.RequestTimeout}
	b := &Bot{
		cfg:   cfg,
		hub:   hub,
		log:   cfg.Logger.With("channel", Channel),
		api:   slackapi.New(cfg.Token, slackapi.OptionAPIURL(cfg.APIURL), slackapi.OptionHTTPClient(client)),
		pace:  bot.NewSharedPacer[string](cfg.PerChannelInterval, cfg.GlobalRate, cfg.SharedLimit, Channel),
		hints: make(chan struct{}, 8),
	}
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, cfg.RequestTimeout)
		resp, err := b.api.AuthTestContext(actx)
		cancel()
		if err == nil {
			b.self = resp.UserID
			break
		}
		if !transient(err) || attempt+1 >= startAttempts || ctx.Err() != nil {
			return nil, fmt.Errorf("slack: auth.test: %w", sanitize(err))
		}
		wait := bot.Backoff(attempt, time.Second, 8*time.Second)
		b.log.Warn("Slack API not reachable; retrying", "method", "auth.test", "err", sanitize(err), "wait", wait)
		if bot.Sleep(ctx, wait) != nil {
			return nil, fmt.Errorf("slack: auth.test: %w", sanitize(err))
		}
	}
	b.log.Info("connected to Slack")
	return b, nil
}

// transient reports whether trying a failed call again later may succeed:
// rate limits, 5xx, transport errors and timeouts.
func transient(err error) bool {
	var rl *slackapi.RateLimitedError
	var sc slackapi.StatusCodeError
	var ne net.Error
	var ue *url.Error
	switch {
	case errors.As(err, &rl):
		return true
	case errors.As(err, &sc):
		return sc.Code >= 500 || sc.Code == http.StatusTooManyRequests
	case errors.As(err, &ne), errors.As(err, &ue), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		switch se.Err {
		case "internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited":
			return true
		}
	}
	return false
}

// unreachable reports whether a channel can no longer be written to.
func unreachable(err error) bool {
	var se slackapi.SlackErrorResponse
	if !errors.As(err, &se) {
		return false
	}
	switch se.Err {
	case "channel_not_found", "is_archived", "not_in_channel", "account_inactive", "user_not_found",
		"user_disabled", "cannot_dm_bot", "messages_tab_disabled":
		return true
	}
	return false
}

// sanitize drops the request URL from transport errors: it is the API's,
// and a token never travels in it, but nothing in it helps the operator.
func sanitize(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// RateLimited is how many times Slack answered that the bot went over its
// rate limit (429, obeyed with its Retry-After), for metrics.
func (b *Bot) RateLimited() uint64 { return b.pace.Pauses() }

// SharedLimitFailures is how many times the limits shared with the other
// replicas could not be asked (Redis down), so that this replica paced its
// sends on its own for a while.
func (b *Bot) SharedLimitFailures() uint64 { return b.pace.SharedFailures() }

package slack

import (
	"context"
	"errors"
	"time"

	slackapi "github.com/slack-go/slack"

	"orderbot/bot"
)

// retryPolicy says how often a call is tried and how it waits in between.
type retryPolicy struct {
	attempts int
	min, max time.Duration
	// before runs before every attempt (pacing); an error ends the retries.
	before func(ctx context.Context) error
}

// replyRetry is for answers to a user, who waits: brief.
var replyRetry = retryPolicy{attempts: 3, min: 250 * time.Millisecond, max: 2 * time.Second}

// sendRetry is for notifications; the notifier retries later what still
// fails.
var sendRetry = retryPolicy{attempts: 4, min: 300 * time.Millisecond, max: 5 * time.Second}

// call makes one Web API call under the request timeout, retrying
// transient failures with back-off, and rate limits after Slack's
// Retry-After (which also pauses the paced notifications).
func (b *Bot) call(ctx context.Context, method string, p retryPolicy, f func(ctx context.Context) error) error {
	for attempt := 0; ; attempt++ {
		if p.before != nil {
			if err := p.before(ctx); err != nil {
				return err
			}
		}
		cctx, cancel := context.WithTimeout(ctx, b.cfg.RequestTimeout)
		err := f(cctx)
		cancel()
		if err == nil {
			return nil
		}
		err = sanitize(err)
		if !transient(err) || attempt+1 >= p.attempts || ctx.Err() != nil {
			return err
		}
		wait := bot.Backoff(attempt, p.min, p.max)
		var rl *slackapi.RateLimitedError
		if errors.As(err, &rl) {
			wait = max(rl.RetryAfter, time.Second)
			b.pace.Pause(wait)
		}
		if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
			return err
		}
		b.log.Debug("Slack API call failed; retrying", "method", method, "err", err, "wait", wait)
		if bot.Sleep(ctx, wait) != nil {
			return err
		}
	}
}

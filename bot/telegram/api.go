package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"orderbot/bot"
)

// ctxClient gives one call of the library a context: tgbotapi builds its
// requests without one, so each call runs on a shallow copy of the BotAPI
// whose client attaches the call's context (deadline and cancellation).
type ctxClient struct {
	ctx context.Context
	c   *http.Client
}

// Do sends req under the call's context.
func (c ctxClient) Do(req *http.Request) (*http.Response, error) {
	return c.c.Do(req.WithContext(c.ctx))
}

// apiError is a failed Bot API call. It never contains the bot token: the
// library's transport errors carry the request URL, which does, and are
// rebuilt without it.
type apiError struct {
	method     string
	code       int           // Telegram's error_code; 0 for transport and decoding errors
	desc       string        // Telegram's description
	retryAfter time.Duration // from a 429
	err        error         // the transport error, sanitized; nil for API errors
}

// Error names the method and Telegram's answer, or the transport error.
func (e *apiError) Error() string {
	if e.code != 0 {
		return fmt.Sprintf("telegram %s: %d %s", e.method, e.code, e.desc)
	}
	return fmt.Sprintf("telegram %s: %v", e.method, e.err)
}

// Unwrap returns the transport error, so timeouts are recognisable.
func (e *apiError) Unwrap() error { return e.err }

// transient reports whether trying again later may succeed: transport
// errors and timeouts, 5xx, flood control.
func (e *apiError) transient() bool {
	return e.code == 0 || e.code >= 500 || e.code == http.StatusTooManyRequests
}

// unreachable reports whether the chat can no longer be written to: the user
// blocked the bot or deleted their account, the bot was removed from the
// chat, or the chat does not exist.
func (e *apiError) unreachable() bool {
	if e.code == http.StatusForbidden {
		return true
	}
	d := strings.ToLower(e.desc)
	return e.code == http.StatusBadRequest && (strings.Contains(d, "chat not found") ||
		strings.Contains(d, "peer_id_invalid") || strings.Contains(d, "user is deactivated"))
}

// notModified reports Telegram's answer to an edit that changes nothing.
func (e *apiError) notModified() bool {
	return e.code == http.StatusBadRequest && strings.Contains(e.desc, "message is not modified")
}

// asAPIError returns err's apiError; every error of do is one.
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return &apiError{err: err}
}

// do runs one library call under ctx with the given deadline and returns
// its error as an *apiError.
func (b *Bot) do(ctx context.Context, method string, timeout time.Duration, call func(api *tgbotapi.BotAPI) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	api := *b.api // shallow copy: Token, endpoint, Self; see ctxClient
	api.Client = ctxClient{ctx: ctx, c: b.client}
	err := call(&api)
	if err == nil {
		return nil
	}
	return b.apiErr(method, err)
}

// apiErr classifies and sanitizes a library error.
func (b *Bot) apiErr(method string, err error) *apiError {
	var te *tgbotapi.Error
	if errors.As(err, &te) {
		code := te.Code
		if code == 0 {
			// UploadFiles leaves the code out; the description starts with it.
			code = codeFromDescription(te.Message)
		}
		return &apiError{method: method, code: code, desc: b.redact(te.Message), retryAfter: time.Duration(te.RetryAfter) * time.Second}
	}
	return &apiError{method: method, err: b.sanitize(err)}
}

func codeFromDescription(d string) int {
	for prefix, code := range map[string]int{
		"Bad Request":           400,
		"Unauthorized":          401,
		"Forbidden":             403,
		"Not Found":             404,
		"Conflict":              409,
		"Too Many Requests":     429,
		"Internal Server Error": 500,
		"Bad Gateway":           502,
	} {
		if strings.HasPrefix(d, prefix) {
			return code
		}
	}
	return 0
}

// sanitize removes the token from a transport error, keeping its chain
// (timeouts stay recognisable with errors.Is).
func (b *Bot) sanitize(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = &url.Error{Op: ue.Op, URL: b.redact(ue.URL), Err: ue.Err}
	}
	if b.cfg.Token != "" && (strings.Contains(err.Error(), b.cfg.Token) || strings.Contains(err.Error(), url.PathEscape(b.cfg.Token))) {
		return errors.New(b.redact(err.Error()))
	}
	return err
}

func (b *Bot) redact(s string) string {
	if b.cfg.Token == "" {
		return s
	}
	s = strings.ReplaceAll(s, b.cfg.Token, "<token>")
	return strings.ReplaceAll(s, url.PathEscape(b.cfg.Token), "<token>")
}

// request sends c and returns Telegram's result.
func (b *Bot) request(ctx context.Context, method string, c tgbotapi.Chattable) (json.RawMessage, error) {
	var result json.RawMessage
	err := b.do(ctx, method, b.cfg.RequestTimeout, func(api *tgbotapi.BotAPI) error {
		resp, err := api.Request(c)
		if err == nil {
			result = resp.Result
		}
		return err
	})
	return result, err
}

// retryPolicy says how often a call is tried and how it waits in between.
type retryPolicy struct {
	attempts int
	min, max time.Duration
	// before runs before every attempt (pacing); an error ends the retries.
	before func(ctx context.Context) error
}

// requestRetry sends c, retrying transient failures with back-off and
// flood control after retry_after, as long as the wait fits in ctx.
func (b *Bot) requestRetry(ctx context.Context, method string, c tgbotapi.Chattable, p retryPolicy) (json.RawMessage, error) {
	return b.retry(ctx, method, p, func(ctx context.Context) (json.RawMessage, error) {
		return b.request(ctx, method, c)
	})
}

// raw calls a method with parameters the library cannot express (newer
// Bot API fields, false booleans it leaves out).
func (b *Bot) raw(ctx context.Context, method string, params tgbotapi.Params) (json.RawMessage, error) {
	var result json.RawMessage
	err := b.do(ctx, method, b.cfg.RequestTimeout, func(api *tgbotapi.BotAPI) error {
		resp, err := api.MakeRequest(method, params)
		if err == nil {
			result = resp.Result
		}
		return err
	})
	return result, err
}

// retry makes a call, retrying transient failures with back-off and flood
// control after retry_after, as long as the wait fits in ctx.
func (b *Bot) retry(ctx context.Context, method string, p retryPolicy, call func(context.Context) (json.RawMessage, error)) (json.RawMessage, error) {
	for attempt := 0; ; attempt++ {
		if p.before != nil {
			if err := p.before(ctx); err != nil {
				return nil, err
			}
		}
		result, err := call(ctx)
		if err == nil {
			return result, nil
		}
		ae := asAPIError(err)
		if !ae.transient() || attempt+1 >= p.attempts || ctx.Err() != nil {
			return nil, err
		}
		wait := bot.Backoff(attempt, p.min, p.max)
		if ae.code == http.StatusTooManyRequests {
			wait = max(ae.retryAfter, time.Second)
			b.pace.Pause(wait)
		}
		if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
			return nil, err // no time left to try again
		}
		b.log.Debug("Bot API call failed; retrying", "method", method, "err", err, "wait", wait)
		if bot.Sleep(ctx, wait) != nil {
			return nil, err
		}
	}
}

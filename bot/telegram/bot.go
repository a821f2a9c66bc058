package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"orderbot/bot"
	"orderbot/dialog"
)

// Channel is the channel name of Telegram conversations.
const Channel = "telegram"

// DefaultAPIEndpoint is the public Bot API server.
const DefaultAPIEndpoint = "https://api.telegram.org"

// allowedUpdates are the update types the bot asks Telegram for.
var allowedUpdates = []string{"message", "callback_query", "pre_checkout_query"}

// Config configures a Bot. Zero fields take their defaults.
type Config struct {
	// Token is the bot's token from @BotFather. Required.
	Token string
	// APIEndpoint is the Bot API server's base URL; the bot calls
	// APIEndpoint+"/bot<token>/<method>". Default: the public server.
	APIEndpoint string
	// WebhookURL is the public HTTPS URL Telegram posts updates to; empty
	// means long polling. WebhookSecret (required with a webhook: 1–256 of
	// A–Z, a–z, 0–9, _ and -) is the secret token Telegram sends with each.
	WebhookURL, WebhookSecret string
	// PollTimeout is how long one getUpdates waits for updates. Default 50s.
	PollTimeout time.Duration
	// RequestTimeout bounds every other call to the Bot API, and a long
	// poll's time beyond PollTimeout. Default 10s.
	RequestTimeout time.Duration
	// PerChatInterval is the least time between two notifications to one
	// chat. Default 1s (Telegram's limit).
	PerChatInterval time.Duration
	// GlobalRate is the most notifications per second overall. Default 30
	// (Telegram's limit).
	GlobalRate int
	// SharedLimit, when set, makes PerChatInterval, GlobalRate and the
	// pauses after a 429 hold for every replica sharing it together
	// (redisstore.Limiter), not for each. Nil: each replica paces itself.
	SharedLimit bot.SharedLimit
	// ImageDir is where product images given as relative paths are read
	// from (URLs are fetched by Telegram itself). Default: the working
	// directory.
	ImageDir string
	// ProviderToken is the payment provider's token from @BotFather
	// (Payments): with it, invoices in the shop's currency can be sent.
	// Invoices in Telegram Stars need none.
	ProviderToken string
	// Checkout checks pre-checkout queries before Telegram charges; nil
	// refuses every payment.
	Checkout Checkout
	// Cards remembers which message shows each order's card, so that it is
	// edited in place as the status changes. Default: kept in this
	// process only (a restart then sends new cards).
	Cards bot.Cards
	// Logger receives operator logs: never message text, names, phone
	// numbers, locations or the token. Default: discard.
	Logger *slog.Logger
	// Now is the clock for message timestamps. Default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.APIEndpoint == "" {
		c.APIEndpoint = DefaultAPIEndpoint
	}
	c.APIEndpoint = strings.TrimRight(c.APIEndpoint, "/")
	if c.PollTimeout <= 0 {
		c.PollTimeout = 50 * time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.PerChatInterval <= 0 {
		c.PerChatInterval = time.Second
	}
	if c.GlobalRate <= 0 {
		c.GlobalRate = 30
	}
	if c.ImageDir == "" {
		c.ImageDir = "."
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Cards == nil {
		c.Cards = &bot.MemoryCards{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Bot is the Telegram channel: it receives updates by long polling or
// webhook, hands them to the hub in order, renders the replies, and sends
// notifications as a bot.Sender.
type Bot struct {
	cfg    Config
	hub    bot.Submitter
	log    *slog.Logger
	api    *tgbotapi.BotAPI // a template: each call runs on a copy, see do
	client *http.Client
	self   tgbotapi.User

	pace      *bot.Pacer[int64]
	keyboards *memo // chats showing a reply keyboard
	hinted    *memo // chats recently told something by the adapter itself
	photos    fileIDs
	local     chan func(context.Context) // the adapter's own short answers
	checkouts chan struct{}              // pre-checkout queries being checked

	refused atomic.Int64 // when a refused webhook request was last logged, Unix seconds

	mu      sync.Mutex
	started bool
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

var _ bot.Sender = (*Bot)(nil)

// How getMe is tried at start: transient failures a few times, so that a
// network blip does not stop serve while a wrong token fails at once.
const startAttempts = 5

// New connects to the Bot API and checks the token with getMe. A token the
// server refuses (401, 404) fails at once; transient errors are retried a
// few times with back-off, then returned.
func New(ctx context.Context, cfg Config, hub bot.Submitter) (*Bot, error) {
	cfg = cfg.withDefaults()
	if cfg.Token == "" {
		return nil, errors.New("telegram: no bot token")
	}
	if cfg.WebhookURL != "" && !validSecret(cfg.WebhookSecret) {
		return nil, errors.New("telegram: a webhook needs a secret token of 1-256 characters A-Z, a-z, 0-9, _ and -")
	}
	if hub == nil {
		return nil, errors.New("telegram: no hub")
	}
	if u, err := url.Parse(cfg.APIEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("telegram: the API endpoint %q is not an http(s) URL", cfg.APIEndpoint)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64 // replies and notifications go to one host
	b := &Bot{
		cfg: cfg,
		hub: hub,
		log: cfg.Logger.With("channel", Channel),
		// The client's own timeout is a backstop; each call has its deadline.
		client:    &http.Client{Transport: transport, Timeout: cfg.PollTimeout + 2*cfg.RequestTimeout},
		pace:      bot.NewSharedPacer[int64](cfg.PerChatInterval, cfg.GlobalRate, cfg.SharedLimit, Channel),
		keyboards: newMemo(24*time.Hour, 100000),
		hinted:    newMemo(10*time.Second, 10000),
		local:     make(chan func(context.Context), 256),
		checkouts: make(chan struct{}, maxCheckouts),
	}
	endpoint := strings.ReplaceAll(cfg.APIEndpoint, "%", "%%") + "/bot%s/%s"
	for attempt := 0; ; attempt++ {
		var api *tgbotapi.BotAPI
		b.api = &tgbotapi.BotAPI{Token: cfg.Token} // for do's error handling
		err := b.do(ctx, "getMe", cfg.RequestTimeout, func(a *tgbotapi.BotAPI) error {
			var err error
			api, err = tgbotapi.NewBotAPIWithClient(cfg.Token, endpoint, a.Client)
			return err
		})
		if err == nil {
			api.Client = b.client
			b.api, b.self = api, api.Self
			break
		}
		ae := asAPIError(err)
		if ae.code == http.StatusUnauthorized || ae.code == http.StatusNotFound {
			return nil, fmt.Errorf("telegram: the Bot API refused the token: %w", err)
		}
		if !ae.transient() || attempt+1 >= startAttempts || ctx.Err() != nil {
			return nil, fmt.Errorf("telegram: connect: %w", err)
		}
		wait := bot.Backoff(attempt, time.Second, 8*time.Second)
		if ae.retryAfter > 0 {
			wait = ae.retryAfter
		}
		b.log.Warn("Bot API not reachable; retrying", "method", "getMe", "err", err, "wait", wait)
		if bot.Sleep(ctx, wait) != nil {
			return nil, fmt.Errorf("telegram: connect: %w", err)
		}
	}
	if b.self.UserName == "" {
		return nil, errors.New("telegram: getMe returned no username")
	}
	b.log.Info("connected to Telegram", "bot", b.self.UserName, "mode", b.mode())
	return b, nil
}

// Username is the bot's @username, without the @.
func (b *Bot) Username() string { return b.self.UserName }

func (b *Bot) mode() string {
	if b.cfg.WebhookURL != "" {
		return "webhook"
	}
	return "polling"
}

// validSecret checks a webhook secret token as Telegram does.
func validSecret(s string) bool { return s != "" && len(s) <= 256 && tokenChars(s) }

// tokenChars reports whether s has only A-Z, a-z, 0-9, _ and -, the
// characters of secret tokens and start payloads.
func tokenChars(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// Start prepares the bot to receive: it registers the commands menu (in
// the background, retried; failures are only logged), and either registers
// the webhook or removes one so that polling works. A webhook the server
// refuses outright (a bad URL) is an error; a transient failure is logged
// and retried in the background. Background work stops when ctx is done or
// on Close.
func (b *Bot) Start(ctx context.Context) error {
	b.mu.Lock()
	if b.started {
		b.mu.Unlock()
		return errors.New("telegram: already started")
	}
	b.started = true
	bg, cancel := context.WithCancel(ctx)
	b.stop = cancel
	b.mu.Unlock()

	b.wg.Go(func() { b.runLocal(bg) })
	b.wg.Go(func() { b.retryInBackground(bg, "setMyCommands", b.setCommands, nil) })
	if b.cfg.WebhookURL == "" {
		if err := b.deleteWebhook(ctx); err != nil {
			// Polling answers 409 while a webhook is set; Run deletes it then.
			b.log.Warn("could not remove the webhook; polling will retry", "method", "deleteWebhook", "err", err)
		}
		return nil
	}
	err := b.setWebhook(ctx)
	switch {
	case err == nil:
		b.log.Info("webhook registered")
	case asAPIError(err).transient():
		b.log.Warn("could not register the webhook; retrying in the background", "method", "setWebhook", "err", err)
		b.wg.Go(func() { b.retryInBackground(bg, "setWebhook", b.setWebhook, err) })
	default:
		cancel()
		b.wg.Wait()
		b.mu.Lock()
		b.started = false
		b.mu.Unlock()
		return fmt.Errorf("telegram: register webhook: %w", err)
	}
	return nil
}

// Close stops the background work started by Start and waits for it.
// RateLimited is how many times Telegram answered that the bot went over
// its rate limit (429, obeyed with its retry_after), for metrics.
func (b *Bot) RateLimited() uint64 { return b.pace.Pauses() }

// SharedLimitFailures is how many times the limits shared with the other
// replicas could not be asked (Redis down), so that this replica paced its
// sends on its own for a while.
func (b *Bot) SharedLimitFailures() uint64 { return b.pace.SharedFailures() }

// Replies and notifications in flight are not affected.
func (b *Bot) Close() {
	b.mu.Lock()
	stop := b.stop
	b.mu.Unlock()
	if stop != nil {
		stop()
	}
	b.wg.Wait()
}

// retryInBackground calls f until it succeeds, Telegram refuses it for
// good, or ctx is done, waiting longer after each failure. failed is the
// error of an attempt already made, or nil.
func (b *Bot) retryInBackground(ctx context.Context, method string, f func(context.Context) error, failed error) {
	for attempt := 0; ; attempt++ {
		if failed != nil {
			ae := asAPIError(failed)
			if !ae.transient() {
				b.log.Error("Bot API refused a start-up call; not retrying", "method", method, "err", failed)
				return
			}
			wait := max(bot.Backoff(attempt, time.Second, 5*time.Minute), ae.retryAfter)
			b.log.Warn("start-up call failed; will retry", "method", method, "err", failed, "wait", wait)
			if bot.Sleep(ctx, wait) != nil {
				return
			}
		}
		if failed = f(ctx); failed == nil || ctx.Err() != nil {
			return
		}
	}
}

// commands is the menu of commands, with a description in each language.
var commands = []struct{ command, key string }{
	{"start", "cmd_start"}, {"cart", "cmd_cart"}, {"orders", "cmd_orders"}, {"help", "cmd_help"}, {"lang", "cmd_lang"},
}

// setCommands registers the commands menu: English by default, Chinese for
// clients in Chinese.
func (b *Bot) setCommands(ctx context.Context) error {
	var errs []error
	for _, lang := range []string{"", "zh"} {
		cfg := tgbotapi.SetMyCommandsConfig{LanguageCode: lang}
		for _, c := range commands {
			cfg.Commands = append(cfg.Commands, tgbotapi.BotCommand{Command: c.command, Description: text(lang, c.key)})
		}
		if _, err := b.request(ctx, "setMyCommands", cfg); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// setWebhook registers the webhook with its secret token. The library
// predates secret_token, so the call is made raw.
func (b *Bot) setWebhook(ctx context.Context) error {
	allowed, _ := json.Marshal(allowedUpdates)
	params := tgbotapi.Params{
		"url":             b.cfg.WebhookURL,
		"secret_token":    b.cfg.WebhookSecret,
		"allowed_updates": string(allowed),
		"max_connections": "40",
	}
	_, err := b.raw(ctx, "setWebhook", params)
	return err
}

func (b *Bot) deleteWebhook(ctx context.Context) error {
	_, err := b.request(ctx, "deleteWebhook", tgbotapi.DeleteWebhookConfig{})
	return err
}

// Run receives updates until ctx is done. With long polling it calls
// getUpdates in a loop, backing off on errors, submits each update to the
// hub in order, and when stopped confirms the updates it took so that
// Telegram does not send them again. With a webhook it just waits: updates
// arrive through WebhookHandler. Run calls Start if it was not called. It
// returns nil when ctx is done, an error when the bot cannot go on (the
// token was revoked, the hub closed).
func (b *Bot) Run(ctx context.Context) error {
	b.mu.Lock()
	started := b.started
	b.mu.Unlock()
	if !started {
		if err := b.Start(ctx); err != nil {
			return err
		}
	}
	if b.cfg.WebhookURL != "" {
		<-ctx.Done()
		return nil
	}
	return b.poll(ctx)
}

// Poll back-off: from pollMinWait doubling to pollMaxWait, jittered.
const (
	pollMinWait = 500 * time.Millisecond
	pollMaxWait = 30 * time.Second
	// busyWait bounds how long polling waits for a full hub to take one
	// update before giving that update up with a "busy" answer: waiting
	// keeps order and loses nothing, but one flooding chat must not stop
	// every other chat for long.
	busyWait = 10 * time.Second
)

func (b *Bot) poll(ctx context.Context) error {
	offset, failures := 0, 0
	var runErr error
	for ctx.Err() == nil && runErr == nil {
		updates, err := b.getUpdates(ctx, offset, b.pollSeconds(), 100)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			ae := asAPIError(err)
			if ae.code == http.StatusUnauthorized {
				runErr = fmt.Errorf("telegram: the token was refused: %w", err)
				break
			}
			wait := bot.Backoff(failures, pollMinWait, pollMaxWait)
			failures++
			if ae.retryAfter > wait {
				wait = ae.retryAfter
			}
			if ae.code == http.StatusConflict && strings.Contains(ae.desc, "webhook") {
				if err := b.deleteWebhook(ctx); err == nil {
					wait = 0
				}
			}
			b.log.Warn("getUpdates failed; retrying", "method", "getUpdates", "err", err, "failures", failures, "wait", wait)
			bot.Sleep(ctx, wait)
			continue
		}
		failures = 0
		// Pre-checkout queries first: Telegram waits 10 seconds for their
		// answer, which must not queue behind the batch's messages.
		for _, u := range updates {
			if u.UpdateID >= offset && u.PreCheckoutQuery != nil {
				b.handleLocally(parseUpdate(u, b.self, b.cfg.Now()))
			}
		}
		for _, u := range updates {
			if u.UpdateID < offset {
				continue // already taken
			}
			if u.PreCheckoutQuery == nil {
				if err := b.take(ctx, u); err != nil {
					runErr = err
					break
				}
			}
			offset = u.UpdateID + 1
		}
	}
	if errors.Is(runErr, context.Canceled) || errors.Is(runErr, context.DeadlineExceeded) {
		runErr = nil
	}
	b.confirm(ctx, offset)
	return runErr
}

func (b *Bot) pollSeconds() int {
	return max(1, int((b.cfg.PollTimeout+time.Second-1)/time.Second))
}

// getUpdates fetches updates after offset. Each update is decoded on its
// own: one the library cannot read is logged and skipped (its id still
// advances the offset) rather than failing every poll.
func (b *Bot) getUpdates(ctx context.Context, offset, timeout, limit int) ([]tgbotapi.Update, error) {
	cfg := tgbotapi.UpdateConfig{Offset: offset, Limit: limit, Timeout: timeout, AllowedUpdates: allowedUpdates}
	var result json.RawMessage
	err := b.do(ctx, "getUpdates", time.Duration(timeout)*time.Second+b.cfg.RequestTimeout, func(api *tgbotapi.BotAPI) error {
		resp, err := api.Request(cfg)
		if err == nil {
			result = resp.Result
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(result, &raws); err != nil {
		return nil, &apiError{method: "getUpdates", err: fmt.Errorf("decode updates: %w", err)}
	}
	updates := make([]tgbotapi.Update, 0, len(raws))
	for _, raw := range raws {
		var u tgbotapi.Update
		if err := json.Unmarshal(raw, &u); err != nil {
			var id struct {
				UpdateID int `json:"update_id"`
			}
			json.Unmarshal(raw, &id)
			b.log.Warn("update not understood; skipped", "method", "getUpdates", "update", id.UpdateID, "err", err)
			u = tgbotapi.Update{UpdateID: id.UpdateID}
		}
		updates = append(updates, u)
	}
	return updates, nil
}

// take hands one polled update on. It returns an error only when polling
// must stop before the update was taken: ctx is done, or the hub closed.
func (b *Bot) take(ctx context.Context, u tgbotapi.Update) error {
	inc := parseUpdate(u, b.self, b.cfg.Now())
	if inc.kind != submit {
		b.handleLocally(inc)
		return nil
	}
	for attempt := 0; !b.recordPayment(ctx, inc); attempt++ {
		if err := bot.Sleep(ctx, bot.Backoff(attempt, time.Second, 30*time.Second)); err != nil {
			return err // not taken: Telegram sends it again after a restart
		}
	}
	deadline := time.Now().Add(busyWait)
	for attempt := 0; ; attempt++ {
		err := b.hub.Submit(inc.in, b.deliverTo(inc))
		switch {
		case err == nil, errors.Is(err, bot.ErrDuplicate):
			return nil
		case errors.Is(err, bot.ErrClosed):
			return fmt.Errorf("telegram: %w", err)
		case !errors.Is(err, bot.ErrBusy):
			return fmt.Errorf("telegram: submit: %w", err)
		}
		if time.Now().After(deadline) && inc.in.Payment == nil {
			// (A payment, recorded already, still waits for its turn: the
			// customer is told it arrived.)
			b.log.Warn("hub busy; update given up", "conv", inc.in.Key.String(), "update", u.UpdateID)
			b.tellBusy(inc)
			return nil
		}
		if err := bot.Sleep(ctx, bot.Backoff(attempt, 50*time.Millisecond, time.Second)); err != nil {
			return err // not taken: Telegram sends it again after a restart
		}
	}
}

// confirm tells Telegram the updates below offset were taken: Telegram
// forgets updates once getUpdates is called with a higher offset, and the
// last long poll may have been cancelled before it reached the server. It
// asks for at most one update and does not wait; that one stays unconfirmed.
func (b *Bot) confirm(ctx context.Context, offset int) {
	if offset == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.cfg.RequestTimeout)
	defer cancel()
	if _, err := b.getUpdates(cctx, offset, 0, 1); err != nil {
		b.log.Warn("could not confirm the last updates; Telegram will send them again", "method", "getUpdates", "err", err)
		return
	}
	b.log.Info("polling stopped; updates confirmed", "offset", offset)
}

// handleLocally answers what the adapter answers itself, on its own
// worker: the receive loop never waits on a send.
func (b *Bot) handleLocally(inc incoming) {
	var job func(ctx context.Context)
	switch inc.kind {
	case ignore:
		switch {
		case inc.reason == reasonPayment:
			// Money may have moved and nothing records it: an operator must know.
			b.log.Error("update ignored", "reason", inc.reason, "conv", inc.in.Key.String())
		case inc.reason != "":
			b.log.Debug("update ignored", "reason", inc.reason)
		}
		return
	case answerOnly:
		job = func(ctx context.Context) { b.answerCallback(ctx, inc.callbackID, "") }
	case groupHint:
		if inc.callbackID != "" {
			job = func(ctx context.Context) { b.answerCallback(ctx, inc.callbackID, text(inc.locale, "group_callback")) }
			break
		}
		if !b.hinted.first(inc.chat) {
			return // this group was just told; Telegram limits bots in groups to 20 messages a minute
		}
		job = func(ctx context.Context) { b.sendGroupHint(ctx, inc) }
	case unsupported:
		if !b.hinted.first(inc.chat) {
			return
		}
		job = func(ctx context.Context) {
			if err := b.post(ctx, inc.chat, out{text: text(inc.locale, "unsupported")}, replyRetry); err != nil {
				b.log.Warn("reply not delivered", "method", "sendMessage", "err", err)
			}
		}
	case preCheckout:
		b.answerPreCheckout(inc)
		return
	default:
		return
	}
	select {
	case b.local <- job:
	default:
		b.log.Warn("adapter's own answers queue full; answer dropped")
	}
}

// answerLater answers a callback query on the adapter's own worker.
func (b *Bot) answerLater(id, notice string) {
	select {
	case b.local <- func(ctx context.Context) { b.answerCallback(ctx, id, notice) }:
	default:
		b.log.Warn("adapter's own answers queue full; answer dropped")
	}
}

// runLocal runs the adapter's own answers, one at a time, until ctx is done.
func (b *Bot) runLocal(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-b.local:
			jctx, cancel := context.WithTimeout(ctx, 3*b.cfg.RequestTimeout)
			job(jctx)
			cancel()
		}
	}
}

// sendGroupHint tells a group the bot takes orders in private, with a
// button opening the private chat (carrying a /start payload on).
func (b *Bot) sendGroupHint(ctx context.Context, inc incoming) {
	link := "https://t.me/" + b.self.UserName
	if inc.payload != "" {
		link += "?start=" + inc.payload
	}
	kb := &tgbotapi.InlineKeyboardMarkup{InlineKeyboard: [][]tgbotapi.InlineKeyboardButton{
		{tgbotapi.NewInlineKeyboardButtonURL(text(inc.locale, "group_button"), link)},
	}}
	m := out{text: text(inc.locale, "group_hint") + "\n" + link, replyTo: inc.replyTo}
	if err := b.postURLKeyboard(ctx, inc.chat, m, kb); err != nil {
		b.log.Warn("group hint not delivered", "method", "sendMessage", "err", err)
	}
}

// postURLKeyboard sends a text with a keyboard of link buttons.
func (b *Bot) postURLKeyboard(ctx context.Context, chat int64, m out, kb *tgbotapi.InlineKeyboardMarkup) error {
	msg := tgbotapi.MessageConfig{
		BaseChat:              tgbotapi.BaseChat{ChatID: chat, ReplyMarkup: kb, ReplyToMessageID: m.replyTo, AllowSendingWithoutReply: true},
		Text:                  html.EscapeString(m.text),
		ParseMode:             tgbotapi.ModeHTML,
		DisableWebPagePreview: true,
	}
	_, err := b.requestRetry(ctx, "sendMessage", msg, replyRetry)
	return err
}

// tellBusy answers an update the hub had no room for.
func (b *Bot) tellBusy(inc incoming) {
	var job func(ctx context.Context)
	if inc.callbackID != "" {
		job = func(ctx context.Context) { b.answerCallback(ctx, inc.callbackID, text(inc.locale, "busy")) }
	} else {
		job = func(ctx context.Context) {
			if err := b.post(ctx, inc.chat, out{text: text(inc.locale, "busy")}, replyRetry); err != nil {
				b.log.Warn("reply not delivered", "method", "sendMessage", "err", err)
			}
		}
	}
	select {
	case b.local <- job:
	default:
	}
}

// Notifications are tried a few times within the notifier's deadline; the
// notifier retries later what still fails.
var sendRetry = retryPolicy{attempts: 4, min: 300 * time.Millisecond, max: 5 * time.Second}

// Send implements bot.Sender: it pushes notifications into a chat, paced to
// Telegram's limits (PerChatInterval per chat, GlobalRate overall). Flood
// control (429) is obeyed using retry_after, 5xx and timeouts are retried
// with back-off while ctx allows, and a chat that cannot be reached (the
// user blocked the bot) returns an error wrapping bot.ErrUnreachable.
func (b *Bot) Send(ctx context.Context, to dialog.Key, replies []dialog.Reply) error {
	if to.Channel != Channel {
		return fmt.Errorf("telegram: cannot send to channel %q", to.Channel)
	}
	chat, err := strconv.ParseInt(to.Chat, 10, 64)
	if err != nil || chat == 0 {
		return fmt.Errorf("telegram: %w: chat id %q is not a Telegram chat", bot.ErrUnreachable, to.Chat)
	}
	var cards, rest []dialog.Reply
	for _, r := range replies {
		if r.Card != "" {
			cards = append(cards, r)
		} else {
			rest = append(rest, r)
		}
	}
	msgs := b.compose(rest, "", false)
	if len(msgs) == 0 && len(cards) == 0 {
		return nil
	}
	c, err := b.pace.Acquire(ctx, chat)
	if err != nil {
		return fmt.Errorf("telegram: send: %w", err)
	}
	defer b.pace.Release(c)
	p := sendRetry
	p.before = func(ctx context.Context) error { return b.pace.Wait(ctx, c) }
	for _, card := range cards {
		if err := b.putCard(ctx, chat, card, p); err != nil {
			if asAPIError(err).unreachable() {
				return fmt.Errorf("telegram: send: %w: %w", bot.ErrUnreachable, err)
			}
			return fmt.Errorf("telegram: send: %w", err)
		}
	}
	for _, m := range msgs {
		if err := b.post(ctx, chat, m, p); err != nil {
			if asAPIError(err).unreachable() {
				return fmt.Errorf("telegram: send: %w: %w", bot.ErrUnreachable, err)
			}
			return fmt.Errorf("telegram: send: %w", err)
		}
	}
	return nil
}

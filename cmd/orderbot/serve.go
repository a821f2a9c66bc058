package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"orderbot/bot"
	"orderbot/bot/slack"
	"orderbot/bot/telegram"
	"orderbot/dialog"
	"orderbot/dialog/redisstore"
	dialogsql "orderbot/dialog/sqlstore"
	"orderbot/orders"
)

// runServe is `orderbot serve`: the HTTP listener (health, readiness,
// webhooks) and every channel whose credentials are in the environment.
// On SIGINT or SIGTERM it stops taking work, finishes the messages in
// flight and returns.
func runServe(ctx context.Context, cfg *Config, logger *slog.Logger, args []string, env func(string) string, stdout io.Writer) error {
	if _, err := parseArgs(flag.NewFlagSet("serve", flag.ContinueOnError), args, 0); err != nil {
		return err
	}
	m := newMetrics()
	a, engine, hub, err := openConversations(ctx, cfg, logger, conversationOptions{
		payments: servedPayments(env),
		// Channels deliver updates again after a restart: remember their
		// ids in the database (with Redis, the conversations' leases
		// remember them, where every replica sees them).
		dedupe: func(a *app) bot.Deduper {
			return dialogsql.NewDeduper(a.store.DB(), 24*time.Hour, nil)
		},
		metrics: m,
	})
	if err != nil {
		return err
	}
	defer a.Close()
	m.watchHub(hub)
	m.watchOutbox(a.store, logger)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		pctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.ping(pctx); err != nil {
			logger.Warn("not ready", "err", err)
			http.Error(w, "not ready: "+strings.SplitN(err.Error(), ":", 2)[0]+" unavailable", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", m.handler())

	senders := map[string]bot.Sender{}
	// Where each order's card is shown, for whichever replica edits it next.
	var cards bot.Cards = dialogsql.NewCards(a.store.DB())
	if a.redis != nil {
		cards = redisstore.NewCards(a.redis, cfg.Redis.Prefix, 0)
	}
	var tg *telegram.Bot
	if token := env("TELEGRAM_BOT_TOKEN"); token != "" {
		tcfg := telegram.Config{
			Token:           token,
			APIEndpoint:     env("TELEGRAM_API_ENDPOINT"),
			WebhookURL:      env("TELEGRAM_WEBHOOK_URL"),
			WebhookSecret:   env("TELEGRAM_WEBHOOK_SECRET"),
			PollTimeout:     cfg.Telegram.PollTimeout,
			RequestTimeout:  cfg.Telegram.RequestTimeout,
			PerChatInterval: cfg.Telegram.PerChatInterval,
			GlobalRate:      cfg.Telegram.GlobalRate,
			ImageDir:        cfg.imageDir(),
			ProviderToken:   env("TELEGRAM_PAYMENT_PROVIDER_TOKEN"),
			Checkout:        engine,
			Cards:           cards,
			SharedLimit:     sharedLimit(a, cfg),
			Logger:          logger,
		}
		if a.redis != nil && (tcfg.WebhookURL == "" || tcfg.WebhookSecret == "") {
			// Replicas long-polling one bot take each other's updates, and
			// each would register a webhook secret of its own.
			return fmt.Errorf("%w: with ORDERBOT_REDIS_URL (replicas), Telegram needs TELEGRAM_WEBHOOK_URL and TELEGRAM_WEBHOOK_SECRET", errUsage)
		}
		if tcfg.WebhookURL != "" {
			u, err := url.Parse(tcfg.WebhookURL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return fmt.Errorf("%w: TELEGRAM_WEBHOOK_URL must be an http(s) URL", errUsage)
			}
			if tcfg.WebhookSecret == "" {
				tcfg.WebhookSecret = randomSecret()
				logger.Info("telegram webhook secret generated", "secret", "set")
			}
		}
		if tg, err = telegram.New(ctx, tcfg, hub); err != nil {
			return fmt.Errorf("telegram: %w", err)
		}
		senders[telegram.Channel] = tg
		m.watchPacing(telegram.Channel, tg)
		if tcfg.WebhookURL != "" {
			u, _ := url.Parse(tcfg.WebhookURL)
			path := u.Path
			if path == "" {
				path = "/"
			}
			mux.Handle(path, tg.WebhookHandler())
		}
	}
	var sb *slack.Bot
	slackApp := env("SLACK_APP_TOKEN")
	if token := env("SLACK_BOT_TOKEN"); token != "" {
		if slackApp == "" && env("SLACK_SIGNING_SECRET") == "" {
			return fmt.Errorf("%w: SLACK_SIGNING_SECRET is required to verify Slack's requests (or set SLACK_APP_TOKEN for Socket Mode)", errUsage)
		}
		sb, err = slack.New(ctx, slack.Config{
			Token:              token,
			SigningSecret:      env("SLACK_SIGNING_SECRET"),
			APIURL:             env("SLACK_API_URL"),
			RequestTimeout:     cfg.Slack.RequestTimeout,
			PerChannelInterval: cfg.Slack.PerChannelInterval,
			GlobalRate:         cfg.Slack.GlobalRate,
			Cards:              cards,
			SharedLimit:        sharedLimit(a, cfg),
			Home:               engine,
			Forms:              engine,
			Logger:             logger,
		}, hub)
		if err != nil {
			return fmt.Errorf("slack: %w", err)
		}
		senders[slack.Channel] = sb
		m.watchPacing(slack.Channel, sb)
		engine.SetLocale(func(ctx context.Context, k dialog.Key) string {
			if k.Channel != slack.Channel || k.User == "" {
				return ""
			}
			return sb.Locale(ctx, k.User)
		})
		if env("SLACK_SIGNING_SECRET") != "" {
			mux.Handle("POST /slack/events", sb.EventsHandler())
			mux.Handle("POST /slack/interactivity", sb.InteractivityHandler())
			mux.Handle("POST /slack/options", sb.InteractivityHandler()) // the type-ahead's options load URL
			mux.Handle("POST /slack/commands", sb.CommandsHandler())
		}
	}
	if len(senders) == 0 {
		logger.Warn("no channel configured: set TELEGRAM_BOT_TOKEN or SLACK_BOT_TOKEN")
	}

	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTP.Addr, err)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		// A Telegram webhook answers once its update was handled, for up
		// to telegram.WebhookWait.
		WriteTimeout: telegram.WebhookWait + 10*time.Second,
		IdleTimeout:  time.Minute,
		ErrorLog:     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	prof, err := listenProfiler(cfg.HTTP.DebugAddr, logger)
	if err != nil {
		ln.Close()
		return err
	}
	if prof != nil {
		defer prof.close()
	}
	fmt.Fprintf(stdout, "orderbot serving on http://%s\n", ln.Addr())
	logger.Info("serving", "addr", ln.Addr().String())

	// Everything below runs until ctx is done; work is the context of the
	// channels' receive loops and of the notifier.
	work, stopWork := context.WithCancel(context.Background())
	defer stopWork()
	var wg sync.WaitGroup
	errs := make(chan error, 5) // one a goroutine below that sends

	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("http: %w", err)
		}
	}()
	if prof != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := prof.serve(work); err != nil {
				errs <- err
			}
		}()
	}
	// The receive loop has its own context: it stops first at shutdown, and
	// confirms what it took, while replies still go out.
	recv, stopRecv := context.WithCancel(context.Background())
	defer stopRecv()
	recvDone := make(chan struct{})
	if tg != nil {
		if err := tg.Start(work); err != nil {
			srv.Close()
			stopWork() // the profiler, and whatever else runs on work
			wg.Wait()
			return fmt.Errorf("telegram: %w", err)
		}
		go func() {
			defer close(recvDone)
			if err := tg.Run(recv); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("telegram: %w", err)
			}
		}()
	} else {
		close(recvDone)
	}
	slackDone := make(chan struct{})
	if sb != nil && slackApp != "" {
		go func() {
			defer close(slackDone)
			if err := sb.RunSocketMode(recv, slackApp); err != nil {
				errs <- err
			}
		}()
	} else {
		close(slackDone)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		expireUnpaid(work, a.svc, cfg.Payments.TTL, cfg.Payments.ExpireEvery, logger)
	}()
	if len(cfg.Approvals.Rules) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			remindApprovers(work, a.svc, cfg.Approvals.RemindAfter, cfg.Approvals.RemindEvery, logger)
		}()
	}
	if len(senders) > 0 {
		notifier := bot.NewNotifier(a.store, engine, senders, notifierConfig(cfg, logger, orders.NotificationFilter{}))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := notifier.Run(work); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("notifier: %w", err)
			}
		}()
	}

	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case runErr = <-errs:
		logger.Error("stopping", "err", runErr)
	}
	// Stop taking work (webhooks, polling), finish what was taken, then stop
	// pushing notifications.
	shutdown, cancel := context.WithTimeout(context.Background(), cfg.Hub.Timeout+5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		logger.Warn("http shutdown", "err", err)
	}
	stopRecv()
	<-recvDone
	<-slackDone
	if err := hub.Close(shutdown); err != nil {
		logger.Warn("messages abandoned at shutdown", "err", err)
	}
	stopWork()
	if tg != nil {
		tg.Close() // its background work and pre-checkout answers, before the database closes
	}
	wg.Wait()
	return runErr
}

// sharedLimit is the channels' rate limits shared by the replicas: in
// Redis when there is one, none otherwise (a nil interface, not a nil
// *Limiter, turns sharing off).
func sharedLimit(a *app, cfg *Config) bot.SharedLimit {
	if a.redis == nil {
		return nil
	}
	return redisstore.NewLimiter(a.redis, cfg.Redis.Prefix)
}

// conversationOptions are what serve adds to the conversations the
// terminal also has.
type conversationOptions struct {
	payments map[string][]orders.Payment // the methods offered per channel; nil: pay on delivery
	dedupe   func(*app) bot.Deduper      // the hub's deduplicator; nil: the hub's own, in memory
	metrics  *metrics                    // nil: none
}

// openConversations opens the database, seeds an empty catalog, and builds
// the engine and the hub on them. The caller closes the app.
func openConversations(ctx context.Context, cfg *Config, logger *slog.Logger, opts conversationOptions) (*app, *dialog.Engine, *bot.Hub, error) {
	faq, err := loadFAQ(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	a, err := openApp(ctx, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := a.seedCatalog(ctx, cfg, logger); err != nil {
		a.Close()
		return nil, nil, nil, err
	}
	var svc dialog.OrderService = a.svc
	hcfg := bot.HubConfig{Workers: cfg.Hub.Workers, QueueLimit: cfg.Hub.QueueLimit, Timeout: cfg.Hub.Timeout, Logger: logger}
	if opts.metrics != nil {
		svc = countingService{Service: a.svc, placed: opts.metrics.placed}
		hcfg.Observe = opts.metrics.observe
	}
	engine := newEngine(cfg, a, svc, faq, opts.payments, logger)
	switch {
	case a.redis != nil:
		// Replicas take turns at a conversation, and its lease remembers
		// the messages handled.
		hcfg.Lease, hcfg.LeaseTTL = redisstore.NewLease(a.redis, cfg.Redis.Prefix, 24*time.Hour), cfg.Redis.LeaseTTL
	case opts.dedupe != nil:
		hcfg.Dedupe = opts.dedupe(a)
	}
	return a, engine, bot.NewHub(engine, hcfg), nil
}

// notifierConfig is the notifier's configuration for the notifications f selects.
func notifierConfig(cfg *Config, logger *slog.Logger, f orders.NotificationFilter) bot.NotifierConfig {
	return bot.NotifierConfig{
		Filter:      f,
		Interval:    cfg.Notifier.Interval,
		Batch:       cfg.Notifier.Batch,
		MinBackoff:  cfg.Notifier.MinBackoff,
		MaxBackoff:  cfg.Notifier.MaxBackoff,
		MaxAttempts: cfg.Notifier.MaxAttempts,
		Lease:       cfg.Notifier.Lease,
		Logger:      logger,
	}
}

// newEngine builds the conversation engine from the configuration;
// payments are the methods offered per channel (pay on delivery elsewhere).
func newEngine(cfg *Config, a *app, svc dialog.OrderService, faq []dialog.FAQEntry, payments map[string][]orders.Payment, logger *slog.Logger) *dialog.Engine {
	return dialog.New(svc, a.sessions, dialog.Config{
		FAQ:         faq,
		Payments:    payments,
		PaymentTTL:  cfg.Payments.TTL,
		DefaultLang: cfg.Dialog.DefaultLang,
		PhoneRegion: cfg.Dialog.PhoneRegion,
		PageSize:    cfg.Dialog.PageSize,
		CatalogTTL:  cfg.Dialog.CatalogTTL,
		IdleReset:   cfg.Dialog.IdleReset,
		CartTTL:     cfg.Dialog.CartTTL,
		MaxInput:    cfg.Dialog.MaxInput,
		Logger:      logger,
	})
}

// servedPayments are the payment methods each channel offers, from the
// credentials in the environment: on Telegram, pay on delivery, by card
// when a payment provider is set, and in Telegram Stars (for carts whose
// products all have a Stars price).
func servedPayments(env func(string) string) map[string][]orders.Payment {
	payments := map[string][]orders.Payment{}
	if env("SLACK_BOT_TOKEN") != "" {
		// Employees order on the company account, charged to a cost centre.
		payments[slack.Channel] = []orders.Payment{orders.PayCompany}
	}
	if env("TELEGRAM_BOT_TOKEN") != "" {
		ps := []orders.Payment{orders.PayOnDelivery}
		if env("TELEGRAM_PAYMENT_PROVIDER_TOKEN") != "" {
			ps = append(ps, orders.PayTelegram)
		}
		payments[telegram.Channel] = append(ps, orders.PayStars)
	}
	return payments
}

// expireUnpaid cancels, every interval until ctx is done, the orders that
// waited longer than ttl for their payment; the outbox tells the customers.
func expireUnpaid(ctx context.Context, svc *orders.Service, ttl, every time.Duration, logger *slog.Logger) {
	periodically(ctx, every, func() {
		n, err := svc.ExpireUnpaid(ctx, ttl)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("could not expire unpaid orders; will retry", "err", err)
		case n > 0:
			logger.Info("unpaid orders expired", "orders", n)
		}
	})
}

// remindApprovers reminds, every minute (or every remind_after when
// shorter) until ctx is done, the approvers of requests waiting too long;
// the outbox carries the reminders.
func remindApprovers(ctx context.Context, svc *orders.Service, after, every time.Duration, logger *slog.Logger) {
	periodically(ctx, min(time.Minute, after), func() {
		n, err := svc.RemindApprovers(ctx, after, every)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("could not remind approvers; will retry", "err", err)
		case n > 0:
			logger.Info("approvers reminded", "orders", n)
		}
	})
}

// periodically runs f now and then every interval, until ctx is done.
func periodically(ctx context.Context, interval time.Duration, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		f()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func randomSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"orderbot/bot"
	"orderbot/bot/console"
	"orderbot/orders"
)

// runChat is `orderbot chat`: one terminal conversation, with the status
// changes of its orders pushed into it while it runs and delivered at the
// next start when it does not.
func runChat(ctx context.Context, cfg *Config, logger *slog.Logger, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	jsonl := fs.Bool("jsonl", false, "one JSON object per line in and out")
	user := fs.String("user", "local", "user id of the conversation")
	lang := fs.String("lang", "", "language of a new conversation: en or zh")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if *lang != "" && *lang != "en" && *lang != "zh" {
		return fmt.Errorf("%w: --lang takes en or zh", errUsage)
	}
	if *user == "" || len(*user) > 64 {
		return fmt.Errorf("%w: --user takes an id of 1 to 64 characters", errUsage)
	}
	// A terminal's lines carry no ids: nothing to deduplicate.
	a, engine, hub, err := openConversations(ctx, cfg, logger, conversationOptions{})
	if err != nil {
		return err
	}
	defer a.Close()
	chat := console.New(hub, stdout, console.Options{JSONL: *jsonl, User: *user, Lang: *lang})
	notifier := bot.NewNotifier(a.store, engine, map[string]bot.Sender{console.Channel: chat},
		notifierConfig(cfg, logger, orders.NotificationFilter{Channels: []string{console.Channel}, Chat: chat.Key().Chat}))

	nctx, stopNotifier := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := notifier.Run(nctx); err != nil && !errors.Is(err, context.Canceled) {
			logger.Error("notifier stopped", "err", err)
		}
	}()

	runErr := chat.Run(ctx, stdin)

	// Finish the message in flight, then stop pushing notifications.
	closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	closeErr := hub.Close(closeCtx)
	stopNotifier()
	wg.Wait()
	if runErr != nil && !errors.Is(runErr, bot.ErrClosed) {
		return runErr
	}
	return closeErr
}

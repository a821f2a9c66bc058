package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// runOutbox lets an operator see the notifications not delivered yet and
// send parked ones again.
func runOutbox(ctx context.Context, cfg *Config, logger *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: outbox takes list or retry", errUsage)
	}
	switch args[0] {
	case "list":
		fs := flag.NewFlagSet("outbox list", flag.ContinueOnError)
		failed := fs.Bool("failed", false, "only the parked notifications, which are no longer tried")
		limit := fs.Int("limit", 100, "at most this many notifications")
		if _, err := parseArgs(fs, args[1:], 0); err != nil {
			return err
		}
		if *limit < 1 || *limit > 1000 {
			return fmt.Errorf("%w: --limit takes 1 to 1000", errUsage)
		}
		a, err := openApp(ctx, cfg)
		if err != nil {
			return err
		}
		defer a.Close()
		list, err := a.store.Undelivered(ctx, *failed, *limit)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		when := "NEXT ATTEMPT"
		if *failed {
			when = "PARKED"
		}
		fmt.Fprintf(tw, "ID\tORDER\tTO\tCHANGE\tATTEMPTS\t%s\tLAST ERROR\n", when)
		for _, n := range list {
			to := n.Customer.Channel + ":" + n.Customer.Chat
			if n.Role != "" {
				to += " (" + n.Role + ")"
			}
			at := n.NextAttempt
			if *failed {
				at = n.ParkedAt
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s→%s\t%d\t%s\t%s\n", n.ID, n.OrderNumber, to, n.From, n.To, n.Attempts,
				at.UTC().Format("2006-01-02 15:04:05"), n.LastError)
		}
		return tw.Flush()
	case "retry":
		fs := flag.NewFlagSet("outbox retry", flag.ContinueOnError)
		all := fs.Bool("all", false, "every parked notification")
		pos, err := parseArgs(fs, args[1:], -1)
		if err != nil {
			return err
		}
		if *all == (len(pos) > 0) {
			return fmt.Errorf("%w: outbox retry takes notification ids, or --all", errUsage)
		}
		ids := make([]int64, len(pos))
		for i, p := range pos {
			if ids[i], err = strconv.ParseInt(p, 10, 64); err != nil || ids[i] <= 0 {
				return fmt.Errorf("%w: %q is not a notification id", errUsage, p)
			}
		}
		a, err := openApp(ctx, cfg)
		if err != nil {
			return err
		}
		defer a.Close()
		unparked, err := a.store.Unpark(ctx, ids, time.Now())
		if err != nil {
			return err
		}
		logger.Info("notifications unparked", "count", len(unparked))
		fmt.Fprintf(stdout, "%d notification(s) will be sent again\n", len(unparked))
		var left []string
		for _, id := range ids {
			if !slices.Contains(unparked, id) {
				left = append(left, strconv.FormatInt(id, 10))
			}
		}
		if len(left) > 0 {
			fmt.Fprintf(stdout, "not parked (delivered, still being tried, or unknown), left alone: %s\n", strings.Join(left, ", "))
		}
		return nil
	default:
		return fmt.Errorf("%w: unknown outbox command %q", errUsage, args[0])
	}
}

package slack

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"strconv"
	"strings"

	slackapi "github.com/slack-go/slack"

	"orderbot/bot"
	"orderbot/dialog"
)

// Send implements bot.Sender: it posts notifications into the
// conversation's channel (the direct message with the app), paced to
// PerChannelInterval and GlobalRate, after Slack's Retry-After when rate
// limited. Order cards are posted once and updated in place. A channel
// that can no longer be written to returns an error wrapping
// bot.ErrUnreachable.
func (b *Bot) Send(ctx context.Context, to dialog.Key, replies []dialog.Reply) error {
	if to.Channel != Channel {
		return fmt.Errorf("slack: cannot send to channel %q", to.Channel)
	}
	if to.Chat == "" {
		return fmt.Errorf("slack: %w: no channel", bot.ErrUnreachable)
	}
	var cards, rest []dialog.Reply
	for _, r := range replies {
		if r.Card != "" {
			cards = append(cards, r)
		} else {
			rest = append(rest, r)
		}
	}
	msgs := compose(rest)
	if len(msgs) == 0 && len(cards) == 0 {
		return nil
	}
	c, err := b.pace.Acquire(ctx, to.Chat)
	if err != nil {
		return fmt.Errorf("slack: send: %w", err)
	}
	defer b.pace.Release(c)
	p := sendRetry
	p.before = func(ctx context.Context) error { return b.pace.Wait(ctx, c) }
	fail := func(err error) error {
		if unreachable(err) {
			return fmt.Errorf("slack: send: %w: %w", bot.ErrUnreachable, err)
		}
		return fmt.Errorf("slack: send: %w", err)
	}
	for _, card := range cards {
		if err := b.putCard(ctx, to.Chat, card, p); err != nil {
			return fail(err)
		}
	}
	for _, m := range msgs {
		if _, _, err := b.post(ctx, to.Chat, m, p); err != nil {
			return fail(err)
		}
	}
	return nil
}

// putCard shows an order's card, updated in place as the order changes
// (see bot.PutCard). Its reference is the channel the card went to (a
// direct message's id even when it was posted to a user's id) and its ts.
func (b *Bot) putCard(ctx context.Context, channel string, r dialog.Reply, p retryPolicy) error {
	msgs := compose([]dialog.Reply{r})
	if len(msgs) == 0 {
		return nil
	}
	m := msgs[0]
	return bot.PutCard(ctx, b.cfg.Cards, Channel, r.Card, bot.CardMessage{
		Sum: cardSum(m),
		Edit: func(ctx context.Context, ref string) (bool, error) {
			at, ts, ok := strings.Cut(ref, " ")
			if !ok {
				return true, errors.New("malformed card reference")
			}
			err := b.update(ctx, at, ts, m, p)
			return err != nil && !unreachable(err) && !transient(err), err
		},
		Post: func(ctx context.Context) (string, error) {
			at, ts, err := b.post(ctx, channel, m, p)
			return at + " " + ts, err
		},
	}, b.log)
}

// cardSum identifies what a card shows.
func cardSum(m message) string {
	h := fnv.New64a()
	h.Write([]byte(m.text))
	for _, blk := range m.blocks {
		fmt.Fprintf(h, "%#v", blk)
	}
	return strconv.FormatUint(h.Sum64(), 36)
}

// hint tells a user who mentioned the app in a channel to order in a direct
// message, visible to them only. It runs in the background, bounded; a
// hint that finds no room is dropped (it is a courtesy).
func (b *Bot) hint(channel, user string) {
	select {
	case b.hints <- struct{}{}:
	default:
		return
	}
	go func() {
		defer func() { <-b.hints }()
		ctx, cancel := context.WithTimeout(context.Background(), 2*b.cfg.RequestTimeout)
		defer cancel()
		err := b.call(ctx, "chat.postEphemeral", replyRetry, func(ctx context.Context) error {
			_, err := b.api.PostEphemeralContext(ctx, channel, user, slackapi.MsgOptionText(text("en", "dm_hint")+"\n"+text("zh", "dm_hint"), false))
			return err
		})
		if err != nil {
			b.log.Warn("hint not delivered", "method", "chat.postEphemeral", "err", err)
		}
	}()
}

func parseForm(body []byte) (url.Values, error) { return url.ParseQuery(string(body)) }

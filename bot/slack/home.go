package slack

import (
	"context"

	slackapi "github.com/slack-go/slack"

	"orderbot/dialog"
)

// maxHomeBlocks is Slack's limit on a Home tab's blocks.
const maxHomeBlocks = 100

// publishHome renders a user's Home tab and publishes it, in the
// background (bounded, like the hints): the event is acknowledged first.
func (b *Bot) publishHome(key dialog.Key) {
	if b.cfg.Home == nil {
		return
	}
	select {
	case b.hints <- struct{}{}:
	default:
		return // busy: the tab shows what it showed, and the next opening renders it
	}
	go func() {
		defer func() { <-b.hints }()
		ctx, cancel := context.WithTimeout(context.Background(), 3*b.cfg.RequestTimeout)
		defer cancel()
		replies, err := b.cfg.Home.Home(ctx, key)
		if err != nil {
			b.log.Warn("Home tab not rendered", "conv", key.String(), "err", err)
			return
		}
		var blocks []slackapi.Block
		for _, m := range compose(replies) {
			blocks = append(blocks, m.blocks...)
		}
		if len(blocks) > maxHomeBlocks {
			blocks = blocks[:maxHomeBlocks]
		}
		view := slackapi.HomeTabViewRequest{Type: slackapi.VTHomeTab, Blocks: slackapi.Blocks{BlockSet: blocks}}
		err = b.call(ctx, "views.publish", replyRetry, func(ctx context.Context) error {
			_, err := b.api.PublishViewContext(ctx, slackapi.PublishViewContextRequest{UserID: key.User, View: view})
			return err
		})
		if err != nil {
			b.log.Warn("Home tab not published", "method", "views.publish", "err", err)
		}
	}()
}

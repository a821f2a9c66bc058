package slack

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"orderbot/dialog"
)

// Slack's limits on a message.
const (
	maxSectionText = 3000 // characters of one section's text
	maxBlocks      = 50   // blocks in one message
	maxButtonText  = 75   // characters of a button's label
	maxButtonValue = 2000 // characters of a button's value
	maxActions     = 25   // elements in one actions block
	maxFallback    = 3000 // characters of the notification text we send
)

// notificationMark starts every notification, so that a button pressed on
// one opens a new message instead of overwriting it (order cards start
// with dialog.CardMark for the same reason).
const notificationMark = "🔔"

// message is one Slack message: its blocks and the plain text Slack shows in
// notifications and where blocks cannot be shown.
type message struct {
	text   string
	blocks []slackapi.Block
}

// compose turns replies into messages: each reply's text in plain-text
// sections (split to Slack's limits), its image when it is a URL Slack can
// fetch, and its buttons as actions blocks; a message holds at most 50
// blocks. Invoices and contact or location requests have no Slack form:
// the dialog's words already ask for a typed answer.
func compose(replies []dialog.Reply) []message {
	var msgs []message
	cur := message{}
	flush := func() {
		if len(cur.blocks) > 0 {
			msgs = append(msgs, cur)
		}
		cur = message{}
	}
	add := func(blocks ...slackapi.Block) {
		if len(cur.blocks)+len(blocks) > maxBlocks {
			flush()
		}
		cur.blocks = append(cur.blocks, blocks...)
	}
	for _, r := range replies {
		txt := clean(r.Text)
		if r.Notification && txt != "" && !strings.HasPrefix(txt, dialog.CardMark) {
			txt = notificationMark + " " + txt
		}
		if cur.text == "" {
			cur.text = truncate(txt, maxFallback)
		}
		if img := imageURL(r.Image); img != "" {
			add(slackapi.NewImageBlock(img, truncate(firstLine(txt), 2000), "", nil))
		}
		for _, piece := range split(txt, maxSectionText) {
			add(slackapi.NewSectionBlock(slackapi.NewTextBlockObject(slackapi.PlainTextType, piece, true, false), nil, nil))
		}
		add(actions(r.Buttons, len(msgs), len(cur.blocks))...)
	}
	flush()
	return msgs
}

// minSelect is how many one-button rows (a list of choices: products,
// orders, questions) become one drop-down instead of a wall of buttons.
const minSelect = 6

// maxSelectOptions is Slack's limit of options in a static select.
const maxSelectOptions = 100

// actions builds the reply's buttons: a long list of one-button rows
// becomes a static select (its option values are the dialog's actions),
// other rows one actions block each (long rows split at Slack's 25
// elements). Each button's value is the dialog's action; its action_id
// only has to be unique within the message.
func actions(rows [][]dialog.Button, msg, at int) []slackapi.Block {
	var blocks []slackapi.Block
	list := 0
	for list < len(rows) && len(rows[list]) == 1 {
		list++
	}
	if list >= minSelect {
		var opts []*slackapi.OptionBlockObject
		for _, row := range rows[:min(list, maxSelectOptions)] {
			b := row[0]
			if b.Action == "" || len(b.Action) > 150 { // Slack's limit for an option's value
				continue
			}
			opts = append(opts, slackapi.NewOptionBlockObject(b.Action, slackapi.NewTextBlockObject(slackapi.PlainTextType, truncate(clean(b.Label), 75), true, false), nil))
		}
		id := fmt.Sprintf("m%d_s%d", msg, at)
		sel := slackapi.NewOptionsSelectBlockElement(slackapi.OptTypeStatic, slackapi.NewTextBlockObject(slackapi.PlainTextType, "…", false, false), id, opts...)
		blocks = append(blocks, slackapi.NewActionBlock(id+"_r", sel))
		rows = rows[list:]
		at++
	}
	for i, row := range rows {
		var els []slackapi.BlockElement
		for j, btn := range row {
			if btn.Action == "" || len(btn.Action) > maxButtonValue {
				continue
			}
			label := truncate(clean(btn.Label), maxButtonText)
			if label == "" {
				label = "·"
			}
			id := fmt.Sprintf("m%d_b%d_%d_%d", msg, at, i, j)
			els = append(els, slackapi.NewButtonBlockElement(id, btn.Action, slackapi.NewTextBlockObject(slackapi.PlainTextType, label, true, false)))
		}
		for len(els) > 0 {
			n := min(len(els), maxActions)
			blocks = append(blocks, slackapi.NewActionBlock(fmt.Sprintf("m%d_r%d_%d_%d", msg, at, i, len(blocks)), els[:n]...))
			els = els[n:]
		}
	}
	return blocks
}

// imageURL returns image when Slack can fetch it (an http(s) URL); local
// files cannot be shown in a block.
func imageURL(image string) string {
	if u, err := url.Parse(image); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		return image
	}
	return ""
}

// post sends one message to a channel (a user id posts to the direct
// message with them) and returns the channel it went to and its ts.
func (b *Bot) post(ctx context.Context, channel string, m message, p retryPolicy) (string, string, error) {
	var at, ts string
	err := b.call(ctx, "chat.postMessage", p, func(ctx context.Context) error {
		var err error
		at, ts, err = b.api.PostMessageContext(ctx, channel, slackapi.MsgOptionText(m.text, false), slackapi.MsgOptionBlocks(m.blocks...))
		return err
	})
	return at, ts, err
}

// update replaces a message's content.
func (b *Bot) update(ctx context.Context, channel, ts string, m message, p retryPolicy) error {
	return b.call(ctx, "chat.update", p, func(ctx context.Context) error {
		_, _, _, err := b.api.UpdateMessageContext(ctx, channel, ts, slackapi.MsgOptionText(m.text, false), slackapi.MsgOptionBlocks(m.blocks...))
		return err
	})
}

// clean makes text safe to send: valid UTF-8, no surrounding blanks.
func clean(s string) string { return strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD")) }

// truncate cuts s to at most n characters.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// split cuts s into pieces of at most limit characters, at the last line
// break that fits, else the last space, else anywhere.
func split(s string, limit int) []string {
	var pieces []string
	for {
		s = strings.TrimSpace(s)
		if s == "" {
			return pieces
		}
		r := []rune(s)
		if len(r) <= limit {
			return append(pieces, s)
		}
		head := string(r[:limit])
		cut := len(head)
		if i := strings.LastIndexByte(head, '\n'); i > 0 {
			cut = i
		} else if i := strings.LastIndexByte(head, ' '); i > 0 {
			cut = i
		}
		pieces = append(pieces, strings.TrimSpace(s[:cut]))
		s = s[cut:]
	}
}

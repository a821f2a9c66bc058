// Package console is the terminal channel: `orderbot chat`. People see the
// buttons as numbered options; scripts and tests use the JSON-lines mode, one
// object per input and output line.
package console

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"orderbot/bot"
	"orderbot/dialog"
)

// Channel is the channel name of terminal conversations.
const Channel = "console"

// MaxLine is the longest input line read; longer lines are refused whole.
const MaxLine = 64 << 10

// hub is what the chat needs from bot.Hub.
type hub interface {
	Submit(in dialog.Inbound, deliver bot.Deliver) error
}

// Options configure a terminal conversation.
type Options struct {
	JSONL bool   // machine interface instead of numbered options
	User  string // the user id; the conversation key is console:User:User
	Lang  string // language of a new conversation
}

// Chat is one terminal conversation. It also implements bot.Sender, so the
// notifier can push status changes into it.
type Chat struct {
	hub  hub
	opts Options
	key  dialog.Key

	mu      sync.Mutex // guards out and last
	out     io.Writer
	last    []dialog.Button // the buttons on screen, in display order
	numeric bool            // some of them are numbers: typed numbers are values
}

var _ bot.Sender = (*Chat)(nil)

// New returns a conversation for opts.User writing to out.
func New(h hub, out io.Writer, opts Options) *Chat {
	if opts.User == "" {
		opts.User = "local"
	}
	return &Chat{
		hub:  h,
		opts: opts,
		out:  out,
		key:  dialog.Key{Channel: Channel, Chat: opts.User, User: opts.User},
	}
}

// Key returns the conversation key.
func (c *Chat) Key() dialog.Key { return c.key }

// Input is one parsed input line.
type Input struct {
	Text   *string `json:"text"`
	Button *string `json:"button"`
}

// ParseInput reads one JSON-lines input: {"text":"…"} or {"button":"…"}.
func ParseInput(line []byte) (Input, error) {
	var in Input
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return Input{}, fmt.Errorf("not a JSON object with \"text\" or \"button\": %v", err)
	}
	if dec.More() {
		return Input{}, errors.New("one JSON object per line")
	}
	switch {
	case in.Text != nil && in.Button != nil:
		return Input{}, errors.New(`give either "text" or "button", not both`)
	case in.Text == nil && in.Button == nil:
		return Input{}, errors.New(`give "text" or "button"`)
	case in.Text != nil && !utf8.ValidString(*in.Text), in.Button != nil && !utf8.ValidString(*in.Button):
		return Input{}, errors.New("text is not valid UTF-8")
	}
	return in, nil
}

// Run reads input until EOF or ctx is done, one turn at a time: each line is
// answered completely before the next is read. In human mode the
// conversation opens with a greeting at the step where it stands.
func (c *Chat) Run(ctx context.Context, r io.Reader) error {
	lines := make(chan lineOrErr)
	go readLines(r, lines) // ends at EOF; a blocked terminal read ends with the process
	if !c.opts.JSONL {
		if err := c.turn(ctx, dialog.Inbound{Action: dialog.GlobalAction("resume")}, false); err != nil {
			return err
		}
	}
	for {
		c.prompt()
		var l lineOrErr
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case l, ok = <-lines:
		}
		if !ok {
			return nil
		}
		if l.err != nil {
			c.writeError(l.err)
			continue
		}
		in, skip, err := c.inbound(l.line)
		if err != nil {
			c.writeError(err)
			continue
		}
		if skip {
			continue
		}
		if err := c.turn(ctx, in, c.opts.JSONL); err != nil {
			return err
		}
	}
}

// inbound turns a line into a message; skip is true for blank lines.
func (c *Chat) inbound(line string) (dialog.Inbound, bool, error) {
	in := dialog.Inbound{}
	if c.opts.JSONL {
		if strings.TrimSpace(line) == "" {
			return in, true, nil
		}
		parsed, err := ParseInput([]byte(line))
		if err != nil {
			return in, false, err
		}
		if parsed.Button != nil {
			in.Action = c.resolve(*parsed.Button, false)
		} else {
			in.Text = *parsed.Text
		}
		return in, false, nil
	}
	line = strings.TrimSpace(line)
	if line == "" {
		return in, true, nil
	}
	if a := c.resolve(line, true); a != "" {
		in.Action = a
	} else {
		in.Text = line
	}
	return in, false, nil
}

// resolve finds the button the user meant, by its number (human mode), its
// label or its action. An unknown button is passed on as an action, which
// the conversation answers as out of date.
func (c *Chat) resolve(s string, human bool) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.last {
		if b.Label == s || b.Action == s || (human && strings.EqualFold(b.Label, s)) {
			return b.Action
		}
	}
	if !human {
		return s
	}
	// Where the buttons are numbers themselves (quantities), a typed number
	// is the value, not the option's position: "4" must not mean the fourth
	// button, labelled "5".
	if n, err := strconv.Atoi(s); err == nil && !c.numeric && n >= 1 && n <= len(c.last) {
		return c.last[n-1].Action
	}
	// People type the words of a label, not its emoji or its price: "check
	// out" presses "✅ Check out", "black" presses "Black · ¥2.50 · 480 left"
	// when no other label starts the same way.
	typed := strings.ToLower(plain(s))
	if len([]rune(typed)) < 3 {
		return ""
	}
	found := ""
	for _, b := range c.last {
		label := strings.ToLower(plain(b.Label))
		if label == typed {
			return b.Action
		}
		if rest, ok := strings.CutPrefix(label, typed); ok && wordEnd(rest) {
			if found != "" && found != b.Action {
				return "" // ambiguous: let the conversation read it as text
			}
			found = b.Action
		}
	}
	return found
}

// wordEnd reports whether the rest of a label after a typed prefix starts a
// new word, so that a name such as "Men" never presses "Menu".
func wordEnd(rest string) bool {
	for _, r := range rest {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}
	return true
}

// plain drops the symbols a label starts with.
func plain(s string) string {
	return strings.TrimLeftFunc(strings.TrimSpace(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// turn submits one message and waits until its replies are written.
func (c *Chat) turn(ctx context.Context, in dialog.Inbound, endOfTurn bool) error {
	in.Key = c.key
	in.Lang = c.opts.Lang
	in.At = time.Now()
	done := make(chan struct{})
	err := c.hub.Submit(in, func(_ context.Context, _ dialog.Inbound, replies []dialog.Reply, err error) {
		defer close(done)
		if len(replies) == 0 && err != nil {
			// The handler failed without a word (it panicked): apologise.
			replies = []dialog.Reply{{Text: dialog.T(c.lang(), "error")}}
		}
		c.write(replies, false, endOfTurn)
	})
	if errors.Is(err, bot.ErrClosed) {
		return err
	}
	if err != nil {
		c.write([]dialog.Reply{{Text: dialog.T(c.lang(), "busy")}}, false, endOfTurn)
		return nil
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
	return nil
}

// lang is the language of the terminal's own messages.
func (c *Chat) lang() string { return dialog.NormalizeLang(c.opts.Lang) }

// Send implements bot.Sender: a pushed notification appears in the chat.
func (c *Chat) Send(_ context.Context, to dialog.Key, replies []dialog.Reply) error {
	if to != c.key {
		return fmt.Errorf("console: notification for another conversation")
	}
	// A terminal cannot edit what it printed: order cards are skipped, the
	// notification beside them says what changed.
	var shown []dialog.Reply
	for _, r := range replies {
		if r.Card == "" {
			r.Notification = true
			shown = append(shown, r)
		}
	}
	if len(shown) == 0 {
		return nil
	}
	c.write(shown, true, false)
	c.prompt()
	return nil
}

// write shows replies and, when endOfTurn, the end-of-turn line, in one go:
// a notification never lands between a turn's replies and its end.
func (c *Chat) write(replies []dialog.Reply, notification, endOfTurn bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !notification {
		c.last, c.numeric = nil, false
		for _, r := range replies {
			for _, row := range r.Buttons {
				for _, b := range row {
					c.last = append(c.last, b)
					if _, err := strconv.Atoi(b.Label); err == nil {
						c.numeric = true
					}
				}
			}
		}
	}
	n := 0
	for _, r := range replies {
		if c.opts.JSONL {
			c.writeJSONLocked(r)
			continue
		}
		n = c.writeHuman(r, n, notification)
	}
	if endOfTurn {
		c.writeJSONLocked(map[string]bool{"end_of_turn": true})
	}
}

// writeHuman shows a reply for people, its buttons numbered from n+1, and
// returns the last number used. Where the buttons are numbers themselves
// (quantities) they are shown by their label alone, and typed numbers are
// values, so "[4] 5" can never be misread.
func (c *Chat) writeHuman(r dialog.Reply, n int, notification bool) int {
	var b strings.Builder
	b.WriteString("\n")
	if notification {
		b.WriteString("🔔 ")
	}
	b.WriteString(r.Text)
	b.WriteString("\n")
	if r.Image != "" {
		b.WriteString("   (" + r.Image + ")\n")
	}
	for _, row := range r.Buttons {
		b.WriteString("  ")
		for _, btn := range row {
			n++
			if c.numeric || notification {
				fmt.Fprintf(&b, " [%s] ", btn.Label)
			} else {
				fmt.Fprintf(&b, " [%d] %s ", n, btn.Label)
			}
		}
		b.WriteString("\n")
	}
	io.WriteString(c.out, b.String())
	return n
}

func (c *Chat) prompt() {
	if c.opts.JSONL {
		return
	}
	c.mu.Lock()
	io.WriteString(c.out, "> ")
	c.mu.Unlock()
}

func (c *Chat) writeError(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.opts.JSONL {
		c.writeJSONLocked(map[string]any{"error": err.Error()})
		c.writeJSONLocked(map[string]bool{"end_of_turn": true})
		return
	}
	msg := err.Error()
	if errors.Is(err, errTooLong) {
		msg = dialog.T(c.lang(), "too_long", MaxLine)
	}
	fmt.Fprintf(c.out, "! %s\n", msg)
}

// errTooLong is reported for an input line over MaxLine bytes.
var errTooLong = fmt.Errorf("input line longer than %d bytes ignored", MaxLine)

func (c *Chat) writeJSONLocked(v any) {
	data, err := json.Marshal(v)
	if err != nil {
		data = []byte(`{"error":"unencodable reply"}`)
	}
	c.out.Write(append(data, '\n'))
}

type lineOrErr struct {
	line string
	err  error
}

// readLines sends each line of r; a line over MaxLine is reported as an
// error and skipped whole, so one huge line cannot stop the conversation.
func readLines(r io.Reader, out chan<- lineOrErr) {
	defer close(out)
	br := bufio.NewReaderSize(r, 4096)
	var buf []byte
	tooLong := false
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err != nil {
			return
		}
		if !tooLong {
			buf = append(buf, chunk...)
			if len(buf) > MaxLine {
				tooLong, buf = true, nil
			}
		}
		if isPrefix {
			continue
		}
		if tooLong {
			out <- lineOrErr{err: errTooLong}
		} else {
			out <- lineOrErr{line: string(buf)}
		}
		buf, tooLong = buf[:0], false
	}
}

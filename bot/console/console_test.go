package console

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"orderbot/bot"
	"orderbot/dialog"
)

// echo answers every message with what it received and two buttons.
func echo(_ context.Context, in dialog.Inbound) ([]dialog.Reply, error) {
	return []dialog.Reply{{
		Text:    "text=" + in.Text + " action=" + in.Action,
		Buttons: [][]dialog.Button{{{Label: "Yes", Action: "s.1:yes"}, {Label: "No", Action: "s.1:no"}}},
	}}, nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func runChat(t *testing.T, opts Options, input string) string {
	t.Helper()
	hub := bot.NewHub(bot.HandlerFunc(echo), bot.HubConfig{Workers: 2})
	defer hub.Close(context.Background())
	var out syncBuffer
	c := New(hub, &out, opts)
	if err := c.Run(context.Background(), strings.NewReader(input)); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestJSONLTurns(t *testing.T) {
	out := runChat(t, Options{JSONL: true, User: "u"}, `{"text":"hi"}`+"\n\n"+`{"button":"Yes"}`+"\n"+`{"button":"s.9:old"}`+"\n"+`not json`+"\n")
	var got []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("output line %q is not JSON", line)
		}
		got = append(got, m)
	}
	want := []string{"text=hi action=", "end", "text= action=s.1:yes", "end", "text= action=s.9:old", "end", "error", "end"}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(got), len(want), out)
	}
	for i, w := range want {
		switch w {
		case "end":
			if got[i]["end_of_turn"] != true {
				t.Errorf("line %d = %v, want end_of_turn", i, got[i])
			}
		case "error":
			if _, ok := got[i]["error"]; !ok {
				t.Errorf("line %d = %v, want an error", i, got[i])
			}
		default:
			if got[i]["text"] != w {
				t.Errorf("line %d text = %v, want %q", i, got[i]["text"], w)
			}
		}
	}
}

func TestHumanModeNumbersPickButtons(t *testing.T) {
	out := runChat(t, Options{User: "u"}, "2\nyes\nhello\n")
	for _, want := range []string{"action=g:resume", "[1] Yes", "[2] No", "action=s.1:no", "action=s.1:yes", "text=hello"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// On a screen of quantity buttons a typed number is the quantity, never the
// position of a button.
func TestHumanModeNumbersOnNumericButtons(t *testing.T) {
	hub := bot.NewHub(bot.HandlerFunc(func(_ context.Context, in dialog.Inbound) ([]dialog.Reply, error) {
		return []dialog.Reply{{Text: "got text=" + in.Text + " action=" + in.Action,
			Buttons: [][]dialog.Button{{{Label: "1", Action: "q.1:qty:1"}, {Label: "5", Action: "q.1:qty:5"}}}}}, nil
	}), bot.HubConfig{Workers: 1})
	defer hub.Close(context.Background())
	var out syncBuffer
	if err := New(hub, &out, Options{User: "u"}).Run(context.Background(), strings.NewReader("2\n5\n")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"got text=2 action=", "got text= action=q.1:qty:5", "[1]  [5]"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "[2] 5") {
		t.Errorf("quantity buttons numbered by position:\n%s", out.String())
	}
}

func TestHumanModeLabelWords(t *testing.T) {
	hub := bot.NewHub(bot.HandlerFunc(func(_ context.Context, in dialog.Inbound) ([]dialog.Reply, error) {
		return []dialog.Reply{{Text: "got text=" + in.Text + " action=" + in.Action,
			Buttons: [][]dialog.Button{{{Label: "✅ Check out", Action: "c.1:checkout"}, {Label: "Black · ¥2.50", Action: "p.1:blk"}, {Label: "Blue · ¥2.50", Action: "p.1:blu"}}}}}, nil
	}), bot.HubConfig{Workers: 1})
	defer hub.Close(context.Background())
	var out syncBuffer
	if err := New(hub, &out, Options{User: "u"}).Run(context.Background(), strings.NewReader("check out\nblack\nblue\nbla\n")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"action=c.1:checkout", "action=p.1:blk", "action=p.1:blu", "got text=bla action="} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestLongLineRefused(t *testing.T) {
	out := runChat(t, Options{JSONL: true, User: "u"}, `{"text":"`+strings.Repeat("a", MaxLine+10)+`"}`+"\n"+`{"text":"ok"}`+"\n")
	if !strings.Contains(out, "longer than") || !strings.Contains(out, "text=ok") {
		t.Fatalf("output:\n%.500s", out)
	}
}

func TestSendNotification(t *testing.T) {
	var out syncBuffer
	c := New(nil, &out, Options{JSONL: true, User: "u"})
	err := c.Send(context.Background(), c.Key(), []dialog.Reply{{Text: "shipped"}})
	if err != nil || !strings.Contains(out.String(), `"notification":true`) {
		t.Fatalf("Send = %v, output %s", err, out.String())
	}
	if err := c.Send(context.Background(), dialog.Key{Channel: Channel, Chat: "x", User: "x"}, nil); err == nil {
		t.Fatal("a notification for another user was accepted")
	}
}

func FuzzParseInput(f *testing.F) {
	for _, s := range []string{`{"text":"hi"}`, `{"button":"Yes"}`, `{}`, `{"text":1}`, `[]`, `{"text":"a"} {"text":"b"}`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		in, err := ParseInput(line)
		if err != nil {
			return
		}
		if (in.Text == nil) == (in.Button == nil) {
			t.Fatalf("%q: parsed to %+v", line, in)
		}
	})
}

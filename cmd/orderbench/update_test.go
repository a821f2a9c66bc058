package main

import (
	"encoding/json"
	"testing"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// decode reads an update as the bot does.
func decode(t *testing.T, body []byte) tgbotapi.Update {
	t.Helper()
	var u tgbotapi.Update
	if err := json.Unmarshal(body, &u); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return u
}

func TestTextUpdate(t *testing.T) {
	tests := []struct {
		name, text string
		command    string // the command the bot_command entity marks, or ""
	}{
		{"command", "/start", "start"},
		{"command with an argument", "/start p_gift-card", "start"},
		{"text", "Li Lei", ""},
		{"text in Chinese", "上海市浦东新区世纪大道 1000 号 3 号楼", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := decode(t, textUpdate(1795000000000007, 1795000000000042, tt.text, 1700000000))
			m := u.Message
			if u.UpdateID != 1795000000000007 || m == nil || m.MessageID != 1795000000000007 || m.Date != 1700000000 {
				t.Fatalf("update %+v", u)
			}
			if m.Chat == nil || m.Chat.ID != 1795000000000042 || m.Chat.Type != "private" {
				t.Fatalf("chat %+v", m.Chat)
			}
			if m.From == nil || m.From.ID != 1795000000000042 || m.From.IsBot || m.From.LanguageCode != "en" {
				t.Fatalf("from %+v", m.From)
			}
			if m.Text != tt.text || m.Command() != tt.command {
				t.Fatalf("text %q, command %q", m.Text, m.Command())
			}
		})
	}
}

func TestCallbackUpdate(t *testing.T) {
	on := message{id: 77, text: "Choose a category:"}
	u := decode(t, callbackUpdate(9, 42, 1, on, "c:office", 1700000000))
	q := u.CallbackQuery
	if u.UpdateID != 9 || u.Message != nil || q == nil {
		t.Fatalf("update %+v", u)
	}
	if q.ID == "" || q.Data != "c:office" || q.From == nil || q.From.ID != 42 || q.From.IsBot {
		t.Fatalf("callback query %+v", q)
	}
	// The bot edits in place its own text messages that still have a date.
	m := q.Message
	if m == nil || m.MessageID != 77 || m.Date == 0 || m.Chat == nil || m.Chat.ID != 42 || m.Chat.Type != "private" ||
		m.From == nil || m.From.ID != 1 || !m.From.IsBot || len(m.Photo) != 0 {
		t.Fatalf("pressed message %+v", m)
	}

	on.photo = true
	if p := decode(t, callbackUpdate(10, 42, 1, on, "v:pen-gel-blk", 1700000000)).CallbackQuery.Message.Photo; len(p) == 0 {
		t.Fatal("a button under a photo was pressed on a text message")
	}
}

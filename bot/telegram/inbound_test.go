package telegram

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"orderbot/bot/telegram/telegramtest"
	"orderbot/dialog"
	"orderbot/orders"
)

var testMe = tgbotapi.User{ID: telegramtest.BotID, IsBot: true, FirstName: telegramtest.BotName, UserName: telegramtest.BotUsername}

func readUpdate(t testing.TB, name string) tgbotapi.Update {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var u tgbotapi.Update
	if err := json.Unmarshal(data, &u); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return u
}

// TestParseRealUpdates converts real Telegram payloads.
func TestParseRealUpdates(t *testing.T) {
	at := time.Date(2024, 5, 26, 8, 0, 0, 0, time.UTC)
	lilei := dialog.Key{Channel: Channel, Chat: "512345678", User: "512345678"}
	tests := []struct {
		file string
		want incoming
	}{
		{"message_text.json", incoming{kind: submit, chat: 512345678, locale: "zh-hans",
			in: dialog.Inbound{ID: "483920117", Key: lilei, Text: "make it 3", Lang: "zh-hans", At: at}}},
		{"message_start_deeplink.json", incoming{kind: submit, chat: 512345678, locale: "en",
			in: dialog.Inbound{ID: "483920116", Key: lilei, Text: "/start p_pen-gel", Lang: "en", At: at}}},
		{"callback_query.json", incoming{kind: submit, chat: 512345678, locale: "en",
			callbackID: "2200513697835251421", messageID: 1524, editable: true,
			in: dialog.Inbound{ID: "483920118", Key: lilei, Action: "categories.3:open:office", Lang: "en", At: at}}},
		{"callback_on_photo.json", incoming{kind: submit, chat: 512345678, locale: "en",
			callbackID: "2200513697835251499", messageID: 1530, editable: false,
			in: dialog.Inbound{ID: "483920125", Key: lilei, Action: "product.7:variant:pen-gel-blk", Lang: "en", At: at}}},
		{"contact.json", incoming{kind: submit, chat: 512345678, locale: "zh-hans",
			in: dialog.Inbound{ID: "483920119", Key: lilei, Lang: "zh-hans", At: at,
				Contact: &dialog.Contact{Phone: "8613800138000", FirstName: "Lei", LastName: "Li", Own: true}}}},
		{"contact_other.json", incoming{kind: submit, chat: 512345678, locale: "en",
			in: dialog.Inbound{ID: "483920120", Key: lilei, Lang: "en", At: at,
				Contact: &dialog.Contact{Phone: "+44 20 7946 0018", FirstName: "Han", LastName: "Meimei", Own: false}}}},
		{"location.json", incoming{kind: submit, chat: 512345678, locale: "en",
			in: dialog.Inbound{ID: "483920121", Key: lilei, Lang: "en", At: at,
				Location: &dialog.Location{Latitude: 31.230416, Longitude: 121.473701}}}},
		{"pre_checkout_query.json", incoming{kind: preCheckout, locale: "zh-hans", queryID: "2200513699471239854",
			order: "OB-7KX2M9Q", amount: orders.Money{Amount: 750, Currency: "CNY"},
			in: dialog.Inbound{ID: "483920122", Key: lilei, At: at}}},
		{"successful_payment.json", incoming{kind: submit, chat: 512345678, locale: "zh-hans",
			in: dialog.Inbound{ID: "483920123", Key: lilei, Lang: "zh-hans", At: at, Payment: &dialog.PaymentEvent{
				OrderNumber: "OB-7KX2M9Q", ChargeID: "6521846298_512345678_1284_7386293847528471360",
				Amount: orders.Money{Amount: 750, Currency: "CNY"}}}}},
		{"group_command.json", incoming{kind: groupHint, chat: -1001987654321, locale: "en", replyTo: 8812, payload: "p_pen-gel",
			in: dialog.Inbound{ID: "483920124", Key: dialog.Key{Channel: Channel, Chat: "-1001987654321", User: "512345678"}, Lang: "en", At: at}}},
		{"group_chatter.json", incoming{kind: ignore, chat: -1001987654321, locale: "zh-hans", reason: "group message not addressed to the bot",
			in: dialog.Inbound{ID: "483920126", Key: dialog.Key{Channel: Channel, Chat: "-1001987654321", User: "698765432"}, Lang: "zh-hans", At: at}}},
		{"sticker.json", incoming{kind: unsupported, chat: 512345678, locale: "en",
			in: dialog.Inbound{ID: "483920127", Key: lilei, Lang: "en", At: at}}},
		{"edited_message.json", incoming{kind: ignore, reason: "edited message", in: dialog.Inbound{ID: "483920128", At: at}}},
		{"channel_post.json", incoming{kind: ignore, reason: "channel post", in: dialog.Inbound{ID: "483920129", At: at}}},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".json"), func(t *testing.T) {
			got := parseUpdate(readUpdate(t, tt.file), testMe, at)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseUpdate:\n got %+v\n     %+v %+v\nwant %+v\n     %+v %+v", got, got.in.Contact, got.in.Location, tt.want, tt.want.in.Contact, tt.want.in.Location)
			}
		})
	}
}

func TestNormalizeCommand(t *testing.T) {
	tests := []struct{ text, want string }{
		{"/start", "/start"},
		{"/start@orderbot_test_bot", "/start"},
		{"/start@OrderBot_Test_Bot p_pen-gel", "/start p_pen-gel"},
		{"/start@orderbot_test_bot   p_pen-gel  ", "/start p_pen-gel"},
		{"/start p_pen-gel", "/start p_pen-gel"},
		{"/cart@some_other_bot", "/cart@some_other_bot"},
		{"make it 3", "make it 3"},
		{"/", "/"},
		{"/@", "/@"},
		{"/lang\tzh", "/lang zh"},
	}
	for _, tt := range tests {
		if got := normalizeCommand(tt.text, testMe.UserName); got != tt.want {
			t.Errorf("normalizeCommand(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestGroupRules(t *testing.T) {
	group := &tgbotapi.Chat{ID: -100, Type: "group"}
	user := &tgbotapi.User{ID: 42, FirstName: "A", LanguageCode: "en"}
	ours := &tgbotapi.Message{MessageID: 5, From: &testMe, Chat: group}
	theirs := &tgbotapi.Message{MessageID: 6, From: &tgbotapi.User{ID: 43}, Chat: group}
	tests := []struct {
		name    string
		m       tgbotapi.Message
		want    kind
		payload string
	}{
		{"plain chatter", tgbotapi.Message{Text: "who wants coffee?"}, ignore, ""},
		{"bare command, maybe for another bot", tgbotapi.Message{Text: "/start"}, ignore, ""},
		{"command for another bot", tgbotapi.Message{Text: "/start@other_bot"}, ignore, ""},
		{"command for us", tgbotapi.Message{Text: "/cart@orderbot_test_bot"}, groupHint, ""},
		{"deep link for us", tgbotapi.Message{Text: "/start@orderbot_test_bot p_tea"}, groupHint, "p_tea"},
		{"payload unfit for a link", tgbotapi.Message{Text: "/start@orderbot_test_bot <script>"}, groupHint, ""},
		{"reply to us", tgbotapi.Message{Text: "how much?", ReplyToMessage: ours}, groupHint, ""},
		{"reply to someone else", tgbotapi.Message{Text: "how much?", ReplyToMessage: theirs}, ignore, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.m
			m.MessageID, m.Chat, m.From = 9, group, user
			got := parseUpdate(tgbotapi.Update{UpdateID: 1, Message: &m}, testMe, time.Now())
			if got.kind != tt.want || got.payload != tt.payload {
				t.Errorf("kind %v payload %q, want %v %q", got.kind, got.payload, tt.want, tt.payload)
			}
		})
	}
}

func TestSplitText(t *testing.T) {
	long := strings.Repeat("word ", 1000)                          // 5,000 units, spaces only
	lines := strings.Repeat("A line of the order history.\n", 200) // 5,800 units
	emoji := strings.Repeat("😀", 3000)                             // 6,000 units, no break at all
	mixed := "中文" + strings.Repeat("😀a", 2100) + "\n" + "tail"     // a cut between surrogate pairs must not happen
	for name, s := range map[string]string{"spaces": long, "lines": lines, "emoji": emoji, "mixed": mixed} {
		t.Run(name, func(t *testing.T) {
			pieces := splitText(s, maxText)
			if len(pieces) < 2 {
				t.Fatalf("%d pieces", len(pieces))
			}
			var b strings.Builder
			for _, p := range pieces {
				if n := utf16Len(p); n > maxText || n == 0 {
					t.Errorf("piece of %d UTF-16 units", n)
				}
				if !utf8.ValidString(p) {
					t.Errorf("piece is not valid UTF-8")
				}
				b.WriteString(p)
			}
			if got, want := strings.Join(strings.Fields(b.String()), ""), strings.Join(strings.Fields(s), ""); got != want {
				t.Errorf("text changed by splitting: %d runes, want %d", utf8.RuneCountInString(got), utf8.RuneCountInString(want))
			}
		})
	}
	if got := splitText("  short  ", maxText); len(got) != 1 || got[0] != "short" {
		t.Errorf("short text split into %q", got)
	}
	if got := splitText(" \n ", maxText); len(got) != 0 {
		t.Errorf("blank text split into %q", got)
	}
	// Lines are preferred over spaces: the cut falls after the last full line.
	text := strings.Repeat("x", 4000) + "\n" + strings.Repeat("y ", 100)
	if got := splitText(text, maxText); len(got) != 2 || got[0] != strings.Repeat("x", 4000) {
		t.Errorf("cut not at the line break: %d pieces, first %d bytes", len(got), len(got[0]))
	}
}

func TestTextsInBothLanguages(t *testing.T) {
	for key, tx := range texts {
		if strings.TrimSpace(tx.en) == "" || strings.TrimSpace(tx.zh) == "" {
			t.Errorf("text %q lacks English or Chinese", key)
		}
		if text("zh-hans", key) != tx.zh || text("en-GB", key) != tx.en || text("", key) != tx.en {
			t.Errorf("text %q: wrong language chosen", key)
		}
	}
	for _, c := range commands {
		if _, ok := texts[c.key]; !ok {
			t.Errorf("command %s has no description", c.command)
		}
	}
	if langOf("请问送到哪里？", "en") != "zh" || langOf("Where should we deliver?", "zh") != "en" || langOf("", "zh-TW") != "zh" {
		t.Error("langOf guesses wrong")
	}
}

// FuzzParseUpdate: any JSON the library decodes converts without panicking,
// and what is submitted is one well-formed message.
func FuzzParseUpdate(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"update_id":1,"message":{"message_id":1,"text":"/","entities":[{"type":"bot_command","offset":0,"length":99}]}}`))
	f.Add([]byte(`{"update_id":2,"callback_query":{"id":"x","from":{"id":1},"message":{"message_id":0,"chat":{"id":1,"type":"private"}},"data":""}}`))
	f.Add([]byte(`{"update_id":3,"message":{"message_id":1,"from":{"id":1},"chat":{"id":1,"type":"private"},"venue":{"location":{"latitude":1e309,"longitude":0}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var u tgbotapi.Update
		if json.Unmarshal(data, &u) != nil {
			return
		}
		inc := parseUpdate(u, testMe, time.Unix(0, 0))
		if inc.kind != submit {
			return
		}
		in := inc.in
		set := 0
		for _, ok := range []bool{in.Text != "", in.Action != "", in.Contact != nil, in.Location != nil, in.Payment != nil} {
			if ok {
				set++
			}
		}
		if set != 1 {
			t.Fatalf("submitted message with %d kinds of content: %+v", set, in)
		}
		if in.Key.Channel != Channel || in.Key.Chat == "" || in.Key.User == "" {
			t.Fatalf("bad key %+v", in.Key)
		}
		if u.UpdateID > 0 && in.ID == "" {
			t.Fatal("no id")
		}
		if len(in.Action) > maxCallback {
			t.Fatal("action over 64 bytes")
		}
		if p := in.Payment; p != nil && (p.OrderNumber == "" || p.ChargeID == "" || p.Amount.Amount <= 0 || p.Amount.Currency == "") {
			t.Fatalf("incomplete payment submitted: %+v", p)
		}
	})
}

// FuzzSplitText: pieces always fit and keep every non-blank character.
func FuzzSplitText(f *testing.F) {
	f.Add("hello world", 5)
	f.Add("😀😀😀 a\nb", 3)
	f.Add(strings.Repeat("中文 ", 50), 7)
	f.Fuzz(func(t *testing.T, s string, limit int) {
		if limit < 2 || limit > 5000 || !utf8.ValidString(s) {
			return
		}
		var b strings.Builder
		for _, p := range splitText(s, limit) {
			if utf16Len(p) > limit || !utf8.ValidString(p) || strings.TrimSpace(p) == "" {
				t.Fatalf("bad piece %q (limit %d)", p, limit)
			}
			b.WriteString(p)
		}
		if got, want := strings.Join(strings.Fields(b.String()), ""), strings.Join(strings.Fields(s), ""); got != want {
			t.Fatalf("lost text: %q → %q", s, got)
		}
	})
}

// FuzzParseCardRef: stored card references read back what was written, and
// anything else is refused without a panic.
func FuzzParseCardRef(f *testing.F) {
	f.Add(int64(512345678), 1524, "3kq9v0z2")
	f.Add(int64(-1001987654321), 1, "")
	f.Fuzz(func(t *testing.T, chat int64, message int, other string) {
		ref := strconv.FormatInt(chat, 10) + ":" + strconv.Itoa(message)
		c, m, ok := parseCardRef(ref)
		if ok != (message > 0) || (ok && (c != chat || m != message)) {
			t.Fatalf("%q read as %d %d %v", ref, c, m, ok)
		}
		parseCardRef(other) // arbitrary text
	})
}

package slack

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"orderbot/dialog"
)

// Replies become messages within Slack's limits: sections of at most 3,000
// characters, at most 50 blocks a message, 25 buttons an actions block,
// button labels of 75 characters; nothing is lost on the way.
func TestComposeLimits(t *testing.T) {
	long := strings.Repeat("Gel pen, black, 0.5 mm. ", 400) // ~9,600 characters
	var row []dialog.Button
	for i := range 30 {
		row = append(row, dialog.Button{Label: strings.Repeat("x", 100), Action: "products.1:open:" + strings.Repeat("s", i)})
	}
	var replies []dialog.Reply
	for range 20 {
		replies = append(replies, dialog.Reply{Text: long, Buttons: [][]dialog.Button{row}})
	}
	msgs := compose(replies)
	var text strings.Builder
	buttons := 0
	for _, m := range msgs {
		if len(m.blocks) > maxBlocks {
			t.Fatalf("a message of %d blocks", len(m.blocks))
		}
		raw, _ := json.Marshal(m.blocks)
		var blocks []map[string]any
		json.Unmarshal(raw, &blocks)
		for _, b := range m.blocks {
			switch b := b.(type) {
			case *slackapi.SectionBlock:
				if n := utf8.RuneCountInString(b.Text.Text); n > maxSectionText {
					t.Fatalf("a section of %d characters", n)
				}
				text.WriteString(b.Text.Text)
			case *slackapi.ActionBlock:
				if len(b.Elements.ElementSet) > maxActions {
					t.Fatalf("%d elements in one actions block", len(b.Elements.ElementSet))
				}
				for _, e := range b.Elements.ElementSet {
					btn := e.(*slackapi.ButtonBlockElement)
					if utf8.RuneCountInString(btn.Text.Text) > maxButtonText {
						t.Fatalf("button label %q", btn.Text.Text)
					}
					buttons++
				}
			}
		}
	}
	if buttons != 20*30 {
		t.Errorf("%d buttons, want %d", buttons, 20*30)
	}
	want := strings.Repeat(strings.Join(strings.Fields(long), ""), 20)
	if got := strings.Join(strings.Fields(text.String()), ""); got != want {
		t.Errorf("text lost: %d characters kept of %d", len(got), len(want))
	}
}

// Notifications are marked, so a button pressed on one opens a new message;
// cards and notifications are not replaced by the next step.
func TestNotificationsAreNotEdited(t *testing.T) {
	msgs := compose([]dialog.Reply{{Text: "Your order OB-1 has shipped.", Notification: true}})
	if !strings.HasPrefix(msgs[0].text, notificationMark) || editable(msgs[0].text) {
		t.Fatalf("notification text %q", msgs[0].text)
	}
	if editable(dialog.CardMark + " Order OB-1") {
		t.Fatal("an order card would be overwritten")
	}
	if !editable("Choose a category") {
		t.Fatal("a step cannot be edited")
	}
}

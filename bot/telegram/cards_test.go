package telegram_test

import (
	"strings"
	"testing"
	"time"

	"orderbot/bot/telegram"
	"orderbot/bot/telegram/telegramtest"
	"orderbot/dialog"
)

// An order's card is one message, edited as the status changes; when that
// message is gone a new card takes its place.
func TestOrderCardEditedInPlace(t *testing.T) {
	e := newEnv(t, newRecorder(nil), telegram.Config{PerChatInterval: 10 * time.Millisecond})
	key := dialog.Key{Channel: telegram.Channel, Chat: "81", User: "81"}
	card := func(status string) dialog.Reply {
		return dialog.Reply{Text: dialog.CardMark + " Order OB-CARD001\nStatus: " + status, Card: "OB-CARD001",
			Buttons: [][]dialog.Button{{{Label: "View order", Action: "g:order:OB-CARD001"}}}}
	}
	send := func(replies ...dialog.Reply) {
		t.Helper()
		if err := e.bot.Send(e.ctx, key, replies); err != nil {
			t.Fatal(err)
		}
	}
	send(card("pending shipment"))
	send(card("shipped"), dialog.Reply{Text: "Your order OB-CARD001 has shipped."})
	send(card("shipped"), dialog.Reply{Text: "Your order OB-CARD001 has shipped."}) // a retried notification
	msgs := e.srv.Messages(81)
	if len(msgs) != 3 || !strings.HasSuffix(msgs[0].Text, "Status: shipped") || msgs[0].ReplyMarkup == nil {
		t.Fatalf("chat shows %d messages; want the card, edited, and two notifications: %+v", len(msgs), msgs)
	}
	if n := len(e.srv.Calls("editMessageText")); n != 1 {
		t.Errorf("%d edits, want 1: a card already up to date costs no call", n)
	}

	// The user deleted the card: the next change sends a new one, and the
	// one after edits that.
	e.srv.FailNext("editMessageText", 1, telegramtest.BadRequest("message to edit not found"))
	send(card("completed"))
	send(card("refunded"))
	msgs = e.srv.Messages(81)
	last := msgs[len(msgs)-1]
	if len(msgs) != 4 || !strings.HasSuffix(last.Text, "Status: refunded") {
		t.Fatalf("after the card was lost, chat shows %+v", msgs)
	}

	// Pressing the card's button opens the order in a new message: the card
	// is not overwritten by the conversation.
	seq := e.srv.LastSeq()
	e.run()
	u, err := e.srv.Tap(telegramtest.NewUser(81, "en"), 81, telegramtest.Label("View order"))
	if err != nil {
		t.Fatal(err)
	}
	e.srv.PushUpdate(u)
	e.wait(telegramtest.Method("sendMessage", telegramtest.After(seq), chatIs(81), textHas("ok: g:order:OB-CARD001")))
	if m, _ := e.srv.Message(81, last.MessageID); !strings.HasSuffix(m.Text, "Status: refunded") {
		t.Fatalf("the card was overwritten: %q", m.Text)
	}
}

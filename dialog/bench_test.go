package dialog_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"orderbot/dialog"
	dialogsql "orderbot/dialog/sqlstore"
	"orderbot/orders"
	"orderbot/orders/sqlstore"
)

// benchEngine returns an engine on a real SQLite order store with the test
// catalog, and the chosen session store.
func benchEngine(b *testing.B, sessions string) *dialog.Engine {
	b.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, "sqlite:"+b.TempDir()+"/bench.db")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	svc := orders.NewService(st, nil)
	if _, err := svc.ImportCatalog(ctx, testCatalog()); err != nil {
		b.Fatal(err)
	}
	var store dialog.Store = dialog.NewMemoryStore()
	if sessions == "sqlite" {
		s := dialogsql.New(st.DB(), nil).ReadFrom(st.ReadDB())
		if err := s.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		store = s
	}
	return dialog.New(svc, store, dialog.Config{FAQ: testFAQ})
}

// browseScript is one round of a shopper's steps: menu, categories, a
// category, a product, a variant, a quantity (the cart), and the cart's
// quantity edit, chosen by the action each button carries.
var browseScript = []string{"/menu", "g:browse", ":open:office", ":open:pen", ":variant:pen-blk", ":qty:1", ":edit:pen-blk", ":rm"}

// BenchmarkEngineStep measures dialog steps per second through the engine:
// load the session, rebuild the machine, fire, render, save.
func BenchmarkEngineStep(b *testing.B) {
	for _, sessions := range []string{"memory", "sqlite"} {
		b.Run(sessions, func(b *testing.B) {
			eng := benchEngine(b, sessions)
			var conv atomic.Int64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				key := dialog.Key{Channel: "bench", Chat: fmt.Sprint(conv.Add(1)), User: "u"}
				var last []dialog.Reply
				i := 0
				for pb.Next() {
					step := browseScript[i%len(browseScript)]
					in := dialog.Inbound{Key: key}
					switch {
					case strings.HasPrefix(step, "/"):
						in.Text = step
					case strings.HasPrefix(step, "g:"):
						in.Action = step
					default:
						in.Action = findAction(last, step)
					}
					replies, err := eng.Handle(context.Background(), in)
					if err != nil {
						b.Fatal(err)
					}
					last = replies
					i++
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
		})
	}
}

func findAction(replies []dialog.Reply, suffix string) string {
	for _, r := range replies {
		for _, row := range r.Buttons {
			for _, btn := range row {
				if strings.HasSuffix(btn.Action, suffix) {
					return btn.Action
				}
			}
		}
	}
	return "missing" + suffix // answered as out of date: still a step
}

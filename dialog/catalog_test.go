package dialog_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"orderbot/dialog"
	"orderbot/orders"
)

// slowCatalog is an order service whose catalog reads are counted and held
// until the test lets them go.
type slowCatalog struct {
	*orders.Service
	reads   atomic.Int32
	started chan struct{} // receives once a read has begun
	release chan struct{} // closed to let reads finish
}

func (s *slowCatalog) Catalog(ctx context.Context) (*orders.Catalog, error) {
	s.reads.Add(1)
	s.started <- struct{}{}
	<-s.release
	return s.Service.Catalog(ctx)
}

// When the snapshot expires, the messages that arrive together wait for one
// read of the catalog instead of each reading it.
func TestExpiredCatalogIsReadOnce(t *testing.T) {
	h := newHarness(t, "en")
	svc := &slowCatalog{Service: h.svc, started: make(chan struct{}, 16), release: make(chan struct{})}
	eng := dialog.New(svc, dialog.NewMemoryStore(), dialog.Config{CatalogTTL: time.Hour})

	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			in := dialog.Inbound{ID: "m", Key: dialog.Key{Channel: "console", Chat: fmt.Sprint(i), User: "u"}, Text: "/menu"}
			if _, err := eng.Handle(context.Background(), in); err != nil {
				errs <- err
			}
		})
	}
	<-svc.started
	// Give the other messages time to reach the read: they must join it,
	// not start their own. (Any that come later find the new snapshot, so
	// the test cannot fail for want of time, only pass too easily.)
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) && len(svc.started) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	close(svc.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := svc.reads.Load(); got != 1 {
		t.Fatalf("catalog read %d times by %d messages at once, want 1", got, n)
	}

	// InvalidateCatalog makes the next message read it again.
	eng.InvalidateCatalog()
	if _, err := eng.Handle(context.Background(), dialog.Inbound{ID: "m2", Key: dialog.Key{Channel: "console", Chat: "0", User: "u"}, Text: "/menu"}); err != nil {
		t.Fatal(err)
	}
	if got := svc.reads.Load(); got != 2 {
		t.Fatalf("after InvalidateCatalog: %d reads, want 2", got)
	}
}

// A message waiting for another's catalog read gives up at its own
// deadline, with an apology; the read goes on for the others.
func TestCatalogWaitEndsWithTheMessage(t *testing.T) {
	h := newHarness(t, "en")
	svc := &slowCatalog{Service: h.svc, started: make(chan struct{}, 16), release: make(chan struct{})}
	eng := dialog.New(svc, dialog.NewMemoryStore(), dialog.Config{CatalogTTL: time.Hour})
	first := make(chan error, 1)
	go func() {
		_, err := eng.Handle(context.Background(), dialog.Inbound{ID: "a", Key: dialog.Key{Channel: "console", Chat: "a", User: "a"}, Text: "/menu"})
		first <- err
	}()
	<-svc.started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	replies, err := eng.Handle(ctx, dialog.Inbound{ID: "b", Key: dialog.Key{Channel: "console", Chat: "b", User: "b"}, Text: "/menu"})
	if !errors.Is(err, context.DeadlineExceeded) || len(replies) != 1 || !strings.Contains(replies[0].Text, "Sorry") {
		t.Fatalf("a message past its deadline: %v, %v; want the deadline and an apology", replies, err)
	}
	close(svc.release)
	if err := <-first; err != nil {
		t.Fatalf("the read's own message: %v", err)
	}
	if got := svc.reads.Load(); got != 1 {
		t.Fatalf("%d catalog reads, want 1", got)
	}
}

package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Deduper is what bot.Deduper asks of a store of message ids.
type Deduper interface {
	Seen(ctx context.Context, id string) (bool, error)
	FirstSeen(ctx context.Context, id string) (bool, error)
}

// RunDeduper checks a Deduper; newDedupers returns n handles on one new,
// empty store of ids (n replicas, or a process before and after a restart).
// Expiry is each implementation's to test: its clock is its own.
func RunDeduper(t *testing.T, newDedupers func(t *testing.T, n int) []Deduper) {
	ctx := context.Background()

	t.Run("an id is new once", func(t *testing.T) {
		ds := newDedupers(t, 2)
		one, two := ds[0], ds[1]
		const id = "telegram\x00100"
		if seen, err := one.Seen(ctx, id); seen || err != nil {
			t.Fatalf("Seen before recording = %v, %v", seen, err)
		}
		if first, err := one.FirstSeen(ctx, id); !first || err != nil {
			t.Fatalf("FirstSeen = %v, %v; want new", first, err)
		}
		for i, d := range ds {
			if seen, err := d.Seen(ctx, id); !seen || err != nil {
				t.Fatalf("handle %d: Seen after recording = %v, %v", i, seen, err)
			}
		}
		if first, err := two.FirstSeen(ctx, id); first || err != nil {
			t.Fatalf("FirstSeen on another handle = %v, %v; want a duplicate", first, err)
		}
		if seen, _ := two.Seen(ctx, "telegram\x00101"); seen {
			t.Fatal("an id never recorded is seen")
		}
	})

	// The hub's ids hold a NUL byte, which some stores cannot keep as it
	// is: ids that look alike once escaped stay apart.
	t.Run("ids stay distinct", func(t *testing.T) {
		d := newDedupers(t, 1)[0]
		long := "slack\x00" + strings.Repeat("é", 300)
		for _, c := range []struct {
			id    string
			first bool
		}{
			{"telegram\x00100", true}, {`telegram\0100`, true}, {`telegram\\0100`, true}, {long, true},
			{"telegram\x00100", false}, {`telegram\0100`, false}, {long, false},
		} {
			if first, err := d.FirstSeen(ctx, c.id); first != c.first || err != nil {
				t.Fatalf("FirstSeen(%q) = %v, %v; want %v", c.id, first, err, c.first)
			}
		}
	})

	t.Run("concurrent replicas take each id once", func(t *testing.T) {
		const replicas, ids = 8, 50
		var firsts atomic.Int64
		var wg sync.WaitGroup
		for _, d := range newDedupers(t, replicas) {
			wg.Go(func() {
				for i := range ids {
					first, err := d.FirstSeen(ctx, fmt.Sprint("id", i))
					if err != nil {
						t.Error(err)
					}
					if first {
						firsts.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if firsts.Load() != ids {
			t.Fatalf("%d first sightings of %d ids", firsts.Load(), ids)
		}
	})
}

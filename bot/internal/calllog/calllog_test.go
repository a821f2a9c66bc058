package calllog_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"orderbot/bot/internal/calllog"
)

type call struct {
	Seq    int
	Method string
}

func newLog() *calllog.Log[call] {
	return calllog.New("fake", func(c *call, seq int) { c.Seq = seq })
}

func method(name string) func(call) bool { return func(c call) bool { return c.Method == name } }

func everyCall(call) bool { return true }

func mustRecord(t *testing.T, l *calllog.Log[call], methods ...string) {
	t.Helper()
	for _, m := range methods {
		l.Record(call{Method: m})
	}
}

func TestRecordNumbersCallsFromOne(t *testing.T) {
	l := newLog()
	if n := l.Len(); n != 0 {
		t.Fatalf("Len of an empty log = %d, want 0", n)
	}
	got := l.Record(call{Method: "a", Seq: 99})
	if got.Seq != 1 {
		t.Errorf("Record returned Seq %d, want 1", got.Seq)
	}
	mustRecord(t, l, "b", "c")
	if n := l.Len(); n != 3 {
		t.Errorf("Len = %d, want 3", n)
	}
	want := []call{{1, "a"}, {2, "b"}, {3, "c"}}
	if all := l.Calls(everyCall); !slices.Equal(all, want) {
		t.Errorf("Calls = %v, want %v", all, want)
	}
}

func TestCalls(t *testing.T) {
	l := newLog()
	mustRecord(t, l, "a", "b", "a")
	tests := []struct {
		name  string
		match func(call) bool
		want  []call
	}{
		{"one method", method("a"), []call{{1, "a"}, {3, "a"}}},
		{"none", method("z"), nil},
		{"and", calllog.And(method("a"), func(c call) bool { return c.Seq > 1 }), []call{{3, "a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := l.Calls(tt.match)
			if !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("Calls = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestCallsReturnsACopy(t *testing.T) {
	l := newLog()
	mustRecord(t, l, "a")
	l.Calls(everyCall)[0].Method = "changed"
	if got := l.Calls(everyCall)[0].Method; got != "a" {
		t.Errorf("recorded call changed to %q through Calls", got)
	}
}

func TestAndTriesMatchersInOrder(t *testing.T) {
	var tried []string
	m := func(name string, result bool) func(call) bool {
		return func(call) bool { tried = append(tried, name); return result }
	}
	tests := []struct {
		name  string
		match func(call) bool
		want  bool
		tried []string
	}{
		{"first fails", calllog.And(m("first", false), m("second", true)), false, []string{"first"}},
		{"all pass", calllog.And(m("first", true), m("second", true), m("third", true)), true, []string{"first", "second", "third"}},
		{"stops at the failing one", calllog.And(m("first", true), m("second", false), m("third", true)), false, []string{"first", "second"}},
		{"first alone", calllog.And(m("first", true)), true, []string{"first"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tried = nil
			if got := tt.match(call{}); got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
			if !slices.Equal(tried, tt.tried) {
				t.Errorf("tried %v, want %v", tried, tt.tried)
			}
		})
	}
}

func TestWaitForPastCall(t *testing.T) {
	l := newLog()
	mustRecord(t, l, "a", "b", "b")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := l.WaitFor(ctx, method("b"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (call{2, "b"}); got != want {
		t.Errorf("WaitFor = %v, want %v", got, want)
	}
}

func TestWaitForFutureCall(t *testing.T) {
	l := newLog()
	mustRecord(t, l, "a")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan call)
	go func() {
		c, err := l.WaitFor(ctx, method("b"))
		if err != nil {
			t.Error(err)
		}
		done <- c
	}()
	mustRecord(t, l, "a", "b")
	if got, want := <-done, (call{3, "b"}); got != want {
		t.Errorf("WaitFor = %v, want %v", got, want)
	}
}

func TestWaitReturnsTheFirstN(t *testing.T) {
	l := newLog()
	mustRecord(t, l, "a", "a", "a")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := l.Wait(ctx, 2, method("a"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []call{{1, "a"}, {2, "a"}}; !slices.Equal(got, want) {
		t.Errorf("Wait = %v, want %v", got, want)
	}
}

func TestWaitGivesUpWhenContextEnds(t *testing.T) {
	l := newLog()
	mustRecord(t, l, "a", "b")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	got, err := l.Wait(ctx, 2, method("a"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait error = %v, want one wrapping %v", err, context.DeadlineExceeded)
	}
	if want := "fake: 1 of 2 matching calls before context deadline exceeded"; err.Error() != want {
		t.Errorf("Wait error = %q, want %q", err, want)
	}
	if want := []call{{1, "a"}}; !slices.Equal(got, want) {
		t.Errorf("Wait returned %v with the error, want %v", got, want)
	}

	c, err := l.WaitFor(ctx, method("z"))
	if !errors.Is(err, context.DeadlineExceeded) || c != (call{}) {
		t.Errorf("WaitFor = %v, %v; want the zero call and an error wrapping %v", c, err, context.DeadlineExceeded)
	}
}

// A matcher may call back into the log: matchers run outside its lock.
func TestMatcherMayUseTheLog(t *testing.T) {
	l := newLog()
	mustRecord(t, l, "a", "b")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := l.WaitFor(ctx, func(c call) bool { return c.Seq == l.Len() })
	if err != nil {
		t.Fatal(err)
	}
	if want := (call{2, "b"}); got != want {
		t.Errorf("WaitFor = %v, want %v", got, want)
	}
}

// Recorders and waiters at once: every waiter sees its calls, every call gets
// a distinct Seq, and the log holds them in Seq order. Run with -race.
func TestConcurrentRecordAndWait(t *testing.T) {
	const recorders, perRecorder = 8, 50
	l := newLog()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var waiters sync.WaitGroup
	for r := range recorders {
		waiters.Go(func() {
			calls, err := l.Wait(ctx, perRecorder, method(fmt.Sprint("r", r)))
			if err != nil {
				t.Errorf("recorder %d: %v", r, err)
				return
			}
			for i := 1; i < len(calls); i++ {
				if calls[i].Seq <= calls[i-1].Seq {
					t.Errorf("recorder %d: Seq %d after %d", r, calls[i].Seq, calls[i-1].Seq)
				}
			}
		})
	}
	waiters.Go(func() {
		if _, err := l.Wait(ctx, recorders*perRecorder, everyCall); err != nil {
			t.Error(err)
		}
	})

	var recording sync.WaitGroup
	for r := range recorders {
		recording.Go(func() {
			for range perRecorder {
				l.Record(call{Method: fmt.Sprint("r", r)})
				_ = l.Len()
				_ = l.Calls(method("r0"))
			}
		})
	}
	recording.Wait()
	waiters.Wait()

	all := l.Calls(everyCall)
	if len(all) != recorders*perRecorder {
		t.Fatalf("%d calls recorded, want %d", len(all), recorders*perRecorder)
	}
	for i, c := range all {
		if c.Seq != i+1 {
			t.Fatalf("call %d has Seq %d", i, c.Seq)
		}
	}
}

func TestFaults(t *testing.T) {
	var q calllog.Faults[string]
	if f, ok := q.Next("a"); ok {
		t.Fatalf("Next on an empty queue = %q, true", f)
	}
	q.Add("a", 2, "first")
	q.Add("b", 1, "other")
	q.Add("a", 1, "second")
	q.Add("a", 0, "never")

	var got []string
	for {
		f, ok := q.Next("a")
		if !ok {
			break
		}
		got = append(got, f)
	}
	if want := []string{"first", "first", "second"}; !slices.Equal(got, want) {
		t.Errorf("faults of a = %v, want %v", got, want)
	}
	if f, ok := q.Next("b"); !ok || f != "other" {
		t.Errorf("Next(b) = %q, %v; want %q, true", f, ok, "other")
	}
	if f, ok := q.Next("b"); ok {
		t.Errorf("Next(b) after its only fault = %q, true", f)
	}
}

func TestFaultsConcurrent(t *testing.T) {
	const n = 200
	var q calllog.Faults[int]
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			q.Add("m", 1, i)
		}
	})
	var mu sync.Mutex
	taken := 0
	for range 4 {
		wg.Go(func() {
			for range n {
				if _, ok := q.Next("m"); ok {
					mu.Lock()
					taken++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for {
		if _, ok := q.Next("m"); !ok {
			break
		}
		taken++
	}
	if taken != n {
		t.Errorf("%d faults taken, want %d", taken, n)
	}
}

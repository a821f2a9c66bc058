// Package calllog is what the fake API servers (telegramtest, slackfake)
// share: a log of the calls a fake received, in the order they completed,
// that a test can list or wait on, and a queue of faults to inject per
// method.
package calllog

import (
	"context"
	"fmt"
	"sync"
)

// Log records calls of type C and numbers them from 1 in the order they are
// recorded. It is safe for concurrent use.
type Log[C any] struct {
	name   string
	setSeq func(*C, int)

	mu    sync.Mutex
	calls []C           // append-only: a recorded call never changes
	wake  chan struct{} // closed and replaced when a call is recorded
}

// New returns an empty log. setSeq stores a call's sequence number in the
// call; name, the owning package's, prefixes the log's errors.
func New[C any](name string, setSeq func(c *C, seq int)) *Log[C] {
	return &Log[C]{name: name, setSeq: setSeq, wake: make(chan struct{})}
}

// Record gives c the next sequence number, appends it and wakes the
// waiters. It returns c as recorded.
func (l *Log[C]) Record(c C) C {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setSeq(&c, len(l.calls)+1)
	l.calls = append(l.calls, c)
	close(l.wake)
	l.wake = make(chan struct{})
	return c
}

// Len is the number of calls recorded, which is the latest call's sequence
// number.
func (l *Log[C]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.calls)
}

// Calls returns the calls recorded so far for which match is true, oldest
// first; nil when there are none.
func (l *Log[C]) Calls(match func(C) bool) []C {
	calls, _ := l.snapshot()
	return filter(calls, match)
}

// WaitFor returns the first call, recorded or still to come, for which match
// is true; it gives up when ctx ends.
func (l *Log[C]) WaitFor(ctx context.Context, match func(C) bool) (C, error) {
	calls, err := l.Wait(ctx, 1, match)
	if err != nil {
		var zero C
		return zero, err
	}
	return calls[0], nil
}

// Wait waits until n calls, recorded or still to come, match and returns the
// first n, oldest first. When ctx ends before, it returns those that matched
// and an error wrapping ctx.Err().
func (l *Log[C]) Wait(ctx context.Context, n int, match func(C) bool) ([]C, error) {
	for {
		calls, wake := l.snapshot()
		found := filter(calls, match)
		if len(found) >= n {
			return found[:n], nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return found, fmt.Errorf("%s: %d of %d matching calls before %w", l.name, len(found), n, ctx.Err())
		}
	}
}

// snapshot returns the calls recorded so far and the channel closed when the
// next one is. Matchers run on the snapshot outside l.mu, so a matcher may
// call back into its server; the calls it holds are never written again.
func (l *Log[C]) snapshot() ([]C, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls[:len(l.calls):len(l.calls)], l.wake
}

func filter[C any](calls []C, match func(C) bool) []C {
	var out []C
	for _, c := range calls {
		if match(c) {
			out = append(out, c)
		}
	}
	return out
}

// And matches a call when first and every one of more match it, tried in
// that order.
func And[C any](first func(C) bool, more ...func(C) bool) func(C) bool {
	return func(c C) bool {
		if !first(c) {
			return false
		}
		for _, m := range more {
			if !m(c) {
				return false
			}
		}
		return true
	}
}

// Faults queues the faults of type F to inject, per method. The zero value
// is an empty queue; it is safe for concurrent use.
type Faults[F any] struct {
	mu    sync.Mutex
	queue map[string][]F
}

// Add queues f for the next n calls of method, after those queued before.
func (q *Faults[F]) Add(method string, n int, f F) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.queue == nil {
		q.queue = make(map[string][]F)
	}
	for range n {
		q.queue[method] = append(q.queue[method], f)
	}
}

// Next takes the next fault queued for method; ok is false when none is.
func (q *Faults[F]) Next(method string) (f F, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	pending := q.queue[method]
	if len(pending) == 0 {
		return f, false
	}
	q.queue[method] = pending[1:]
	return pending[0], true
}

package redisstore_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"orderbot/bot"
	"orderbot/dialog/redisstore"
)

var _ bot.SharedLimit = (*redisstore.Limiter)(nil)

// slop is how much shorter than planned a wait may be: the time that
// passed between the reservations compared, long on a busy machine.
const slop = 250 * time.Millisecond

func mustReserve(t *testing.T, l *redisstore.Limiter, channel, chat string, interval, gap time.Duration) (time.Duration, bool) {
	t.Helper()
	wait, ok, err := l.Reserve(context.Background(), channel, chat, interval, gap)
	if err != nil {
		t.Fatal(err)
	}
	return wait, ok
}

// wantWait fails the test unless wait is in (want - slop, want].
func wantWait(t *testing.T, what string, wait, want time.Duration) {
	t.Helper()
	if wait > want || wait <= want-slop {
		t.Fatalf("%s: wait %v, want %v", what, wait, want)
	}
}

// A channel's slots are gap apart, in the order asked; a chat's next slot
// comes interval after its last; each channel has slots of its own.
func TestLimiterSpacesSlots(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		const interval, gap = 10 * time.Second, time.Second
		l := redisstore.NewLimiter(srv.rdb, "")
		for i := range 5 {
			wait, ok := mustReserve(t, l, "telegram", strconv.Itoa(i), interval, gap)
			if !ok {
				t.Fatalf("reservation %d refused for %v", i, wait)
			}
			wantWait(t, fmt.Sprintf("reservation %d", i), wait, time.Duration(i)*gap)
		}
		wait, ok := mustReserve(t, l, "telegram", "0", interval, gap)
		if ok {
			t.Fatalf("chat 0 got a second slot within its interval, %v from now", wait)
		}
		wantWait(t, "chat 0 again", wait, interval)
		if wait, ok := mustReserve(t, l, "slack", "0", interval, gap); !ok || wait != 0 {
			t.Fatalf("another channel's first reservation: wait %v, ok %v; want at once", wait, ok)
		}
	})
}

// Replicas reserving at once each get a slot of their own, gap apart, and
// of those asking for one chat at once only one gets it.
func TestLimiterConcurrentReservations(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		const replicas, each, gap = 8, 10, time.Second
		ctx := context.Background()
		l := redisstore.NewLimiter(srv.rdb, "")
		var (
			mu      sync.Mutex
			waits   []time.Duration
			granted atomic.Int32
			wg      sync.WaitGroup
		)
		for r := range replicas {
			wg.Go(func() {
				for i := range each {
					wait, ok, err := l.Reserve(ctx, "telegram", fmt.Sprintf("%d-%d", r, i), time.Hour, gap)
					if err != nil || !ok {
						t.Errorf("replica %d, chat %d: ok %v, %v", r, i, ok, err)
						return
					}
					mu.Lock()
					waits = append(waits, wait)
					mu.Unlock()
				}
				if _, ok, err := l.Reserve(ctx, "slack", "shared", time.Hour, gap); err != nil {
					t.Error(err)
				} else if ok {
					granted.Add(1)
				}
			})
		}
		wg.Wait()
		slices.Sort(waits)
		if len(waits) != replicas*each {
			t.Fatalf("%d slots, want %d", len(waits), replicas*each)
		}
		// A wait is its slot less the time of the reservation: two slots
		// gap apart have waits gap apart, less the time between the two
		// reservations, which is far less than half of gap.
		for i := 1; i < len(waits); i++ {
			if d := waits[i] - waits[i-1]; d > gap || d <= gap/2 {
				t.Fatalf("slots %d and %d: waits %v apart, want %v", i-1, i, d, gap)
			}
		}
		if n := granted.Load(); n != 1 {
			t.Fatalf("%d of %d replicas got the one chat at once, want 1", n, replicas)
		}
	})
}

// Each key expires once it holds nothing back any more.
func TestLimiterKeysExpire(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		const interval, gap, pause = 600 * time.Millisecond, 300 * time.Millisecond, 800 * time.Millisecond
		ctx := context.Background()
		l := redisstore.NewLimiter(srv.rdb, "")
		mustReserve(t, l, "telegram", "1", interval, gap)
		mustReserve(t, l, "telegram", "2", interval, gap)
		if err := l.Pause(ctx, "telegram", pause); err != nil {
			t.Fatal(err)
		}
		base := redisstore.DefaultPrefix + "limit:telegram:"
		for key, want := range map[string]time.Duration{
			base + "global": 2*gap + time.Millisecond,
			base + "chat:1": interval + time.Millisecond,
			base + "chat:2": gap + interval + time.Millisecond,
			base + "pause":  pause,
		} {
			if ttl := mustTTL(t, srv, key); ttl > want || ttl <= want-slop {
				t.Errorf("%s expires in %v, want %v", key, ttl, want)
			}
		}
		srv.elapse(time.Second)
		poll := time.NewTicker(10 * time.Millisecond)
		defer poll.Stop()
		deadline := time.Now().Add(5 * time.Second)
		for {
			keys, err := srv.rdb.Keys(ctx, base+"*").Result()
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("keys left: %q", keys)
			}
			<-poll.C
		}
	})
}

// A pause holds back every chat of the channel, in every replica, and only
// that channel; a shorter pause does not cut a longer one short.
func TestLimiterPause(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		ctx := context.Background()
		a, b := redisstore.NewLimiter(srv.rdb, ""), redisstore.NewLimiter(srv.rdb, "")
		paused := func(l *redisstore.Limiter, channel string) time.Duration {
			t.Helper()
			d, err := l.Paused(ctx, channel)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		if d := paused(b, "telegram"); d != 0 {
			t.Fatalf("paused for %v before any pause", d)
		}
		for _, d := range []time.Duration{2 * time.Second, time.Second} {
			if err := a.Pause(ctx, "telegram", d); err != nil {
				t.Fatal(err)
			}
		}
		wantWait(t, "paused", paused(b, "telegram"), 2*time.Second)
		wait, ok := mustReserve(t, b, "telegram", "1", time.Second, time.Millisecond)
		if ok {
			t.Fatal("a send was reserved during a pause")
		}
		wantWait(t, "reservation during a pause", wait, 2*time.Second)
		if wait, ok := mustReserve(t, b, "slack", "1", time.Second, time.Millisecond); !ok || wait != 0 {
			t.Fatalf("another channel during a pause: wait %v, ok %v; want at once", wait, ok)
		}
		if err := a.Pause(ctx, "telegram", 3*time.Second); err != nil {
			t.Fatal(err)
		}
		wantWait(t, "paused longer", paused(b, "telegram"), 3*time.Second)
		if srv.mini == nil {
			return // the rest waits for seconds; TestLimiterKeysExpire sees a pause end
		}
		srv.elapse(3 * time.Second)
		if d := paused(b, "telegram"); d != 0 {
			t.Fatalf("paused for %v after the pause", d)
		}
		if wait, ok := mustReserve(t, b, "telegram", "1", time.Second, time.Millisecond); !ok || wait != 0 {
			t.Fatalf("after the pause: wait %v, ok %v; want at once", wait, ok)
		}
	})
}

// Limiters under different prefixes share nothing, and keep every key
// under their prefix.
func TestLimiterPrefix(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		ctx := context.Background()
		a, b := redisstore.NewLimiter(srv.rdb, "a:"), redisstore.NewLimiter(srv.rdb, "b:")
		if err := a.Pause(ctx, "telegram", time.Hour); err != nil {
			t.Fatal(err)
		}
		for _, l := range []*redisstore.Limiter{b, redisstore.NewLimiter(srv.rdb, "")} {
			if wait, ok := mustReserve(t, l, "telegram", "1", time.Hour, time.Hour); !ok || wait != 0 {
				t.Fatalf("wait %v, ok %v; want at once: another prefix's pause or slots held it back", wait, ok)
			}
		}
		keys, err := srv.rdb.Keys(ctx, "*").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range keys {
			if !strings.HasPrefix(key, "a:limit:") && !strings.HasPrefix(key, "b:limit:") && !strings.HasPrefix(key, redisstore.DefaultPrefix+"limit:") {
				t.Errorf("key %q outside the prefixes", key)
			}
		}
		if len(keys) != 5 {
			t.Errorf("keys %q, want a pause and two of b's and the default prefix's", keys)
		}
	})
}

// With Redis down, every call fails at once: the Pacer then paces alone.
func TestLimiterRedisDown(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { rdb.Close() })
	m.Close()
	l := redisstore.NewLimiter(rdb, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := l.Reserve(ctx, "telegram", "1", time.Second, time.Millisecond); err == nil || ctx.Err() != nil {
		t.Errorf("Reserve with Redis down = %v; want an error at once", err)
	}
	if err := l.Pause(ctx, "telegram", time.Second); err == nil || ctx.Err() != nil {
		t.Errorf("Pause with Redis down = %v; want an error at once", err)
	}
}

// Two replicas' Pacers sharing a Limiter keep the channel's limits
// together: sends to one chat by the replicas in turn are the interval
// apart (less slack for the scheduler), and sends to many chats the gap
// apart. Alone, each replica would have sent at once.
func TestLimiterWithPacers(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		const (
			interval = 50 * time.Millisecond
			rate     = 100
			gap      = time.Second / rate
		)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		replicas := []*bot.Pacer[int]{
			bot.NewSharedPacer[int](interval, rate, redisstore.NewLimiter(srv.rdb, ""), "telegram"),
			bot.NewSharedPacer[int](interval, rate, redisstore.NewLimiter(srv.rdb, ""), "telegram"),
		}
		send := func(i, chat int) time.Time {
			t.Helper()
			p := replicas[i%len(replicas)]
			c, err := p.Acquire(ctx, chat)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Release(c)
			if err := p.Wait(ctx, c); err != nil {
				t.Fatal(err)
			}
			return time.Now()
		}
		last := send(0, 0)
		for i := 1; i < 4; i++ {
			at := send(i, 0)
			if d := at.Sub(last); d < interval/2 {
				t.Fatalf("send %d to one chat came %v after the one before, want %v", i, d, interval)
			}
			last = at
		}
		const sends = 20
		start := send(0, 1)
		for i := 1; i < sends; i++ {
			last = send(i, 1+i)
		}
		if took, least := last.Sub(start), (sends-1)*gap; took < least*9/10 {
			t.Fatalf("%d sends to as many chats took %v, want at least %v", sends, took, least)
		}
		for i, p := range replicas {
			if n := p.SharedFailures(); n != 0 {
				t.Errorf("replica %d: %d failures of the Limiter", i, n)
			}
		}
	})
}

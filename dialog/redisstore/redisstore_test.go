package redisstore_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"orderbot/bot"
	"orderbot/dialog"
	"orderbot/dialog/redisstore"
	"orderbot/dialog/storetest"
	"orderbot/internal/testenv"
	"orderbot/orders"
)

var (
	_ bot.Leaser = (*redisstore.Lease)(nil)
	_ bot.Cards  = (*redisstore.Cards)(nil)
)

// server is a Redis server to test on, empty: miniredis, or a real one.
type server struct {
	rdb  *redis.Client
	mini *miniredis.Miniredis // nil on a real server
}

// elapse lets d pass for the keys' expiry on miniredis, whose clock moves
// only when told. On a real server time passes by itself: a test that has
// to wait for an expiry there uses a short TTL and a call that waits.
func (s server) elapse(d time.Duration) {
	if s.mini != nil {
		s.mini.FastForward(d)
	}
}

// eachServer runs test on miniredis and on the real Redis server that
// testenv hands out (skipped, outside CI, when there is none).
func eachServer(t *testing.T, test func(t *testing.T, srv server)) {
	t.Helper()
	t.Run("miniredis", func(t *testing.T) {
		m := miniredis.RunT(t)
		test(t, server{rdb: mustOpen(t, "redis://"+m.Addr()), mini: m})
	})
	t.Run("redis", func(t *testing.T) {
		test(t, server{rdb: mustOpen(t, testenv.RedisURL(t))})
	})
}

func mustOpen(t *testing.T, url string) *redis.Client {
	t.Helper()
	rdb, err := redisstore.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// mustTTL returns how long key has left to live.
func mustTTL(t *testing.T, srv server, key string) time.Duration {
	t.Helper()
	ttl, err := srv.rdb.PTTL(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return ttl
}

// wantTTL fails the test unless key expires within (want - 1 minute, want].
func wantTTL(t *testing.T, srv server, key string, want time.Duration) {
	t.Helper()
	if got := mustTTL(t, srv, key); got <= want-time.Minute || got > want {
		t.Fatalf("%s expires in %v, want %v", key, got, want)
	}
}

func TestContract(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		storetest.Run(t, func(t *testing.T) dialog.Store {
			// Each store has keys of its own on the one server.
			return redisstore.New(srv.rdb, t.Name()+":", 0)
		})
	})
}

var conv = dialog.Key{Channel: "telegram", Chat: "1234567890", User: "1234567890"}

// cartSession is a session at review with a three-line cart and every
// checkout slot given: as large as sessions commonly get.
func cartSession() dialog.Session {
	line := func(sku string, qty int, price int64) dialog.CartLine {
		return dialog.CartLine{VariantSKU: sku, Quantity: qty, UnitPrice: orders.Money{Amount: price, Currency: "CNY"}}
	}
	return dialog.Session{
		Key: conv, State: dialog.StateReview, Stack: []dialog.State{dialog.StateCart, dialog.StatePayment},
		Seq: 57, Lang: "zh", Category: "drinks", Product: "tea", Variant: "tea-green-100g",
		Cart: []dialog.CartLine{line("tea-green-100g", 2, 1200), line("coffee-beans-250g", 1, 4800), line("cookie-box-12", 3, 2000)},
		Checkout: dialog.Checkout{
			Address: "Room 1203, Building 5, 88 Garden Road, Xihu District, Hangzhou", Location: &dialog.Location{Latitude: 30.2741, Longitude: 120.1551},
			Name: "Li Lei", Phone: "+8613800138000", Payment: orders.PayOnDelivery, Key: "ck-7Q2M4X9RPA",
		},
		Profile:   dialog.Profile{Address: "Room 1203, Building 5, 88 Garden Road, Xihu District, Hangzhou", Name: "Li Lei", Phone: "+8613800138000"},
		Recent:    recentIDs(),
		UpdatedAt: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
	}
}

// recentIDs are as many Telegram update ids as a session remembers.
func recentIDs() []string {
	ids := make([]string, dialog.MaxRecent)
	for i := range ids {
		ids[i] = strconv.Itoa(812345670 + i)
	}
	return ids
}

func mustSave(t *testing.T, st *redisstore.Store, want dialog.Session) {
	t.Helper()
	err := st.Update(context.Background(), want.Key, func(s *dialog.Session) error {
		v := s.Version
		*s = want
		s.Version = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The floor: a session with a three-line cart takes under 2 KB of
// the server's memory, key and all. MEMORY USAGE is only real on Redis.
func TestSessionMemory(t *testing.T) {
	srv := server{rdb: mustOpen(t, testenv.RedisURL(t))}
	mustSave(t, redisstore.New(srv.rdb, "", 0), cartSession())
	key := redisstore.DefaultPrefix + "session:" + conv.String()
	n, err := srv.rdb.MemoryUsage(context.Background(), key, 0).Result()
	if err != nil {
		t.Fatal(err)
	}
	data, err := srv.rdb.HGet(context.Background(), key, "d").Result()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a session with a three-line cart: %d bytes of memory (%d of JSON)", n, len(data))
	if n >= 2048 {
		t.Fatalf("a session takes %d bytes, want under 2048", n)
	}
}

// A session is forgotten once it has not been saved for the idle time; each
// save starts that time again.
func TestSessionExpiresWhenIdle(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		const idle = 48 * time.Hour
		ctx := context.Background()
		st := redisstore.New(srv.rdb, "", idle)
		mustSave(t, st, cartSession())
		wantTTL(t, srv, redisstore.DefaultPrefix+"session:"+conv.String(), idle)
		if srv.mini == nil {
			return // the rest waits for days
		}
		srv.elapse(idle - time.Hour)
		mustSave(t, st, cartSession())
		srv.elapse(idle - time.Hour)
		if _, found, err := st.Load(ctx, conv); !found || err != nil {
			t.Fatalf("saved %v ago: found %v, %v", idle-time.Hour, found, err)
		}
		srv.elapse(2 * time.Hour)
		s, found, err := st.Load(ctx, conv)
		if found || err != nil || s.Version != 0 {
			t.Fatalf("idle for %v: found %v, version %d, %v; want a fresh session", idle+time.Hour, found, s.Version, err)
		}
	})
}

// A replica that lost the conversation's lease cannot save over the work of
// the replica that holds it now.
func TestUpdateFenced(t *testing.T) {
	eachServer(t, func(t *testing.T, srv server) {
		ctx := context.Background()
		st, lease := redisstore.New(srv.rdb, "", 0), redisstore.NewLease(srv.rdb, "", 0)
		seq := func(n int) func(*dialog.Session) error {
			return func(s *dialog.Session) error { s.Seq = n; return nil }
		}
		if err := st.UpdateFenced(ctx, conv, 1, seq(1)); !errors.Is(err, redisstore.ErrLeaseLost) {
			t.Fatalf("save without the lease = %v, want ErrLeaseLost", err)
		}
		const ttl = 200 * time.Millisecond
		_, stalled, _, err := lease.Acquire(ctx, conv.String(), "", ttl)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.UpdateFenced(ctx, conv, stalled, seq(1)); err != nil {
			t.Fatalf("save under the lease: %v", err)
		}
		// The holder stalls past its lease; another replica takes over.
		srv.elapse(ttl)
		ctx5, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, current, _, err := lease.Acquire(ctx5, conv.String(), "", time.Minute)
		if err != nil {
			t.Fatalf("the lease of a stalled holder did not expire: %v", err)
		}
		if current <= stalled {
			t.Fatalf("token %d after %d: fencing tokens must grow", current, stalled)
		}
		if err := st.UpdateFenced(ctx, conv, current, seq(2)); err != nil {
			t.Fatal(err)
		}
		if err := st.UpdateFenced(ctx, conv, stalled, seq(3)); !errors.Is(err, redisstore.ErrLeaseLost) {
			t.Fatalf("stale save = %v, want ErrLeaseLost", err)
		}
		// Update is fenced the same when the hub puts the token in ctx.
		if err := st.Update(dialog.WithLease(ctx, stalled), conv, seq(3)); !errors.Is(err, dialog.ErrLeaseLost) {
			t.Fatalf("stale save through the context = %v, want dialog.ErrLeaseLost", err)
		}
		s, _, err := st.Load(ctx, conv)
		if err != nil || s.Seq != 2 || s.Version != 2 {
			t.Fatalf("seq %d, version %d, %v; want the current holder's save (2, 2)", s.Seq, s.Version, err)
		}
	})
}

// While Redis is down every call fails with an error, and once it is back
// they all work again on the same client: go-redis dials again by itself
// (within a second, once its dials have failed often enough that it stopped
// trying on each call).
func TestRedisRestart(t *testing.T) {
	m := miniredis.RunT(t)
	// One try a call, so that calls fail fast while Redis is down.
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { rdb.Close() })
	st, cards, lease := redisstore.New(rdb, "", 0), redisstore.NewCards(rdb, "", 0), redisstore.NewLease(rdb, "", 0)
	calls := map[string]func(ctx context.Context) error{
		"Load": func(ctx context.Context) error { _, _, err := st.Load(ctx, conv); return err },
		"Update": func(ctx context.Context) error {
			return st.Update(ctx, conv, func(s *dialog.Session) error { s.Seq++; return nil })
		},
		"SaveCardRef": func(ctx context.Context) error { return cards.SaveCardRef(ctx, "telegram", "OB-1", "1:2") },
		"Acquire": func(ctx context.Context) error {
			_, token, _, err := lease.Acquire(ctx, "c", time.Now().String(), time.Minute)
			if err == nil {
				err = lease.Release(ctx, "c", token, time.Now().String())
			}
			return err
		},
	}
	for name, call := range calls {
		if err := call(context.Background()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	m.Close()
	for name, call := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := call(ctx); err == nil || ctx.Err() != nil {
			t.Errorf("%s with Redis down = %v; want an error at once", name, err)
		}
		cancel()
	}
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for name, call := range calls {
		for err := call(context.Background()); err != nil; err = call(context.Background()) {
			if time.Now().After(deadline) {
				t.Fatalf("%s with Redis back: %v", name, err)
			}
			<-poll.C
		}
	}
}

func TestOpen(t *testing.T) {
	rdb, err := redisstore.Open("redis://:pw@127.0.0.1:6390/3")
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if o := rdb.Options(); o.Addr != "127.0.0.1:6390" || o.Password != "pw" || o.DB != 3 {
		t.Fatalf("options = %s, %q, db %d", o.Addr, o.Password, o.DB)
	}
	for _, bad := range []string{"http://127.0.0.1:6379", "redis://:secret@127.0.0.1:port", "redis://127.0.0.1/x"} {
		_, err := redisstore.Open(bad)
		if err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q) = %v; want an error without the password", bad, err)
		}
	}
}

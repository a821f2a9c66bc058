package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"orderbot/bot/telegram/telegramtest"
	"orderbot/dialog"
	"orderbot/dialog/redisstore"
	"orderbot/internal/testenv"
	"orderbot/orders"
	"orderbot/orders/sqlstore"
)

// replica is one `orderbot serve` process of the test binary.
type replica struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	logs *lockedBuilder
	done chan struct{}
}

// startReplica starts `orderbot serve` as a process of its own, as a
// replica of a fleet is, and waits until it listens.
func startReplica(t *testing.T, env []string) *replica {
	t.Helper()
	r := &replica{t: t, cmd: exec.Command(binary, "serve"), logs: &lockedBuilder{b: &strings.Builder{}}, done: make(chan struct{})}
	r.cmd.Env = env
	r.cmd.Stderr = r.logs
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "orderbot serving on http://"); ok {
				addr <- a
			}
		}
		close(addr)
	}()
	go func() {
		r.cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() { r.stop(syscall.SIGTERM) })
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("replica exited before listening:\n%s", r.logs.String())
		}
		r.addr = a
	case <-time.After(60 * time.Second):
		r.stop(syscall.SIGKILL)
		t.Fatalf("replica did not start listening:\n%s", r.logs.String())
	}
	return r
}

// stop sends sig and waits for the process to end.
func (r *replica) stop(sig syscall.Signal) {
	select {
	case <-r.done:
		return
	default:
	}
	r.cmd.Process.Signal(sig)
	select {
	case <-r.done:
	case <-time.After(60 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
		r.t.Errorf("replica did not stop on %v:\n%s", sig, r.logs.String())
	}
}

// fleetEnv is the environment of replicas sharing PostgreSQL and Redis,
// with Telegram by webhook against fake.
func fleetEnv(t *testing.T, fake *telegramtest.Server, databaseURL, redisURL string) []string {
	t.Helper()
	cfg := writeConfig(t, t.TempDir(), "telegram:\n  per_chat_interval: 10ms\n  global_rate: 1000\n")
	return []string{
		"ORDERBOT_DATABASE_URL=" + databaseURL,
		"ORDERBOT_REDIS_URL=" + redisURL,
		"ORDERBOT_CONFIG=" + cfg,
		"ORDERBOT_HTTP_ADDR=127.0.0.1:0",
		"TELEGRAM_BOT_TOKEN=123456:test-token",
		"TELEGRAM_API_ENDPOINT=" + fake.URL(),
		"TELEGRAM_WEBHOOK_URL=https://bot.example.com/hook",
		"TELEGRAM_WEBHOOK_SECRET=" + fleetSecret,
		"PATH=" + os.Getenv("PATH"),
	}
}

const fleetSecret = "fleet-secret"

// fleet is replicas behind a load balancer: an update goes to the replica
// asked for, or to another when that one does not answer, until one
// accepts it, as Telegram's retries and a balancer's failover do.
type fleet struct {
	t        *testing.T
	fake     *telegramtest.Server
	mu       sync.Mutex
	replicas []*replica
}

func (f *fleet) set(i int, r *replica) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replicas[i] = r
}

// post delivers u, starting with replica i, until a replica answers 200.
func (f *fleet) post(u tgbotapi.Update, i int) {
	deadline := time.Now().Add(60 * time.Second)
	for try := i; time.Now().Before(deadline); try++ {
		f.mu.Lock()
		r := f.replicas[try%len(f.replicas)]
		f.mu.Unlock()
		code, err := f.fake.PostWebhook("http://"+r.addr+"/hook", fleetSecret, u)
		if err == nil && code == http.StatusOK {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.t.Errorf("update %d accepted by no replica", u.UpdateID)
}

// conversationStep is one thing a customer does and the text of the step
// it leads to, which the bot shows (perhaps again, after a replica died
// having handled it) once the update was accepted.
type conversationStep struct {
	send func(c *fleetCustomer) tgbotapi.Update
	want string
}

// fleetCustomer is one Telegram user ordering through the fleet.
type fleetCustomer struct {
	t    *testing.T
	fake *telegramtest.Server
	user tgbotapi.User
}

// shows waits until the chat shows want.
func (c *fleetCustomer) shows(want string) bool {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range c.fake.Messages(c.user.ID) {
			if strings.Contains(m.Text, want) {
				return true
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// tapOf finds the button labelled label, waiting for it to be shown.
func (c *fleetCustomer) tapOf(label string) tgbotapi.Update {
	deadline := time.Now().Add(30 * time.Second)
	for {
		u, err := c.fake.Tap(c.user, c.user.ID, telegramtest.Label(label))
		if err == nil || time.Now().After(deadline) {
			if err != nil {
				c.t.Errorf("user %d: %v", c.user.ID, err)
			}
			return u
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// orderSteps are a whole order paid on delivery.
var orderSteps = []conversationStep{
	{func(c *fleetCustomer) tgbotapi.Update { return c.fake.Text(c.user, "/start") }, "Main menu"},
	{func(c *fleetCustomer) tgbotapi.Update { return c.tapOf("Browse") }, "Choose a category"},
	{func(c *fleetCustomer) tgbotapi.Update { return c.tapOf("Office") }, "Choose a product"},
	{func(c *fleetCustomer) tgbotapi.Update { return c.tapOf("Gel pen") }, "Choose an option"},
	{func(c *fleetCustomer) tgbotapi.Update { return c.tapOf("Black") }, "How many"},
	{func(c *fleetCustomer) tgbotapi.Update { return c.fake.Text(c.user, "2") }, "Your cart"},
	{func(c *fleetCustomer) tgbotapi.Update { return c.tapOf("Check out") }, "Where should we deliver"},
	{func(c *fleetCustomer) tgbotapi.Update { return c.fake.Location(c.user, 31.2304, 121.4737) }, "Who will receive"},
	{func(c *fleetCustomer) tgbotapi.Update { return c.fake.Text(c.user, "Li Lei") }, "phone number"},
	{func(c *fleetCustomer) tgbotapi.Update { return c.fake.Contact(c.user, "8613800138000", c.user.ID) }, "How would you like to pay"},
	{func(c *fleetCustomer) tgbotapi.Update { return c.tapOf("Pay on delivery") }, "Please check your order"},
	{func(c *fleetCustomer) tgbotapi.Update { return c.tapOf("Confirm order") }, "Order OB-"},
}

// Two replicas share PostgreSQL and Redis behind a balancer; 200
// customers order at once, their updates alternating between the
// replicas; half-way one replica is killed (SIGKILL) and started again.
// Every conversation ends where its messages lead, with exactly one order
// each; stock adds up; every placement's notification is delivered, once,
// except those whose delivery the kill interrupted (sent, not yet marked),
// which may have been sent twice.
func TestServeTwoReplicasOneKilled(t *testing.T) {
	const customers = 200
	databaseURL, redisURL := testenv.PostgresURL(t), testenv.RedisURL(t)
	fake := telegramtest.NewServer(t)
	env := fleetEnv(t, fake, databaseURL, redisURL)
	f := &fleet{t: t, fake: fake, replicas: []*replica{startReplica(t, env), nil}}
	f.set(1, startReplica(t, env))

	var steps atomic.Int64
	half := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for i := range customers {
		c := &fleetCustomer{t: t, fake: fake, user: telegramtest.NewUser(int64(70000+i), "en")}
		wg.Go(func() {
			for j, s := range orderSteps {
				f.post(s.send(c), i+j)
				if !c.shows(s.want) {
					var got []string
					for _, m := range fake.Messages(c.user.ID) {
						got = append(got, m.Text)
					}
					t.Errorf("user %d, step %d: no %q in:\n%s", c.user.ID, j, s.want, strings.Join(got, "\n---\n"))
					return
				}
				if steps.Add(1) == customers*int64(len(orderSteps))/2 {
					once.Do(func() { close(half) })
				}
			}
		})
	}
	<-half
	f.mu.Lock()
	killed := f.replicas[1]
	f.mu.Unlock()
	killed.stop(syscall.SIGKILL)
	f.set(1, startReplica(t, env))
	wg.Wait()
	if t.Failed() {
		for i, r := range append([]*replica{killed}, f.replicas...) {
			t.Logf("replica %d's log:\n%s", i, r.logs.String())
		}
		t.FailNow()
	}

	ctx := context.Background()
	store, err := sqlstore.Open(ctx, databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	list, err := store.Orders(ctx, orders.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	perChat := map[string]int{}
	for _, o := range list {
		perChat[o.Customer.Chat]++
	}
	if len(list) != customers || len(perChat) != customers {
		t.Fatalf("%d orders for %d customers; want one each of %d", len(list), len(perChat), customers)
	}
	cat, err := store.Catalog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v, _, _ := cat.Variant("pen-gel-blk"); v.Stock != 480-2*customers {
		t.Errorf("stock %d, want %d", v.Stock, 480-2*customers)
	}
	rdb, err := redisstore.Open(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	sessions := redisstore.New(rdb, "", 0)
	for i := range customers {
		id := fmt.Sprint(70000 + i)
		s, found, err := sessions.Load(ctx, dialog.Key{Channel: "telegram", Chat: id, User: id})
		if err != nil || !found || s.State != dialog.StateOrder || len(s.Cart) != 0 {
			t.Fatalf("customer %s: session %v found %v state %s cart %v; want at their order, cart empty", id, err, found, s.State, s.Cart)
		}
	}

	// Every placement notification is delivered (the order's card), once
	// unless the kill interrupted its delivery.
	deadline := time.Now().Add(60 * time.Second)
	for {
		waiting, _, parked, err := store.Backlog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if waiting == 0 && parked == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d notifications waiting, %d parked", waiting, parked)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cards := map[string]int{}
	for _, call := range fake.Calls("sendMessage") {
		if strings.HasPrefix(call.Param("text"), dialog.CardMark) {
			cards[call.Param("chat_id")]++
		}
	}
	twice := 0
	for chat := range perChat {
		switch cards[chat] {
		case 1:
		case 2:
			twice++
		default:
			t.Errorf("chat %s got %d cards of its order", chat, cards[chat])
		}
	}
	if twice > 32 { // the notifier sends to at most 32 chats at once: those the kill interrupted
		t.Errorf("%d cards sent twice", twice)
	}
	t.Logf("%d orders; %d cards sent twice after the kill", len(list), twice)
}

// Replicas starting at once on an empty PostgreSQL database all start:
// one migrates and seeds the catalog, the others find it done.
func TestReplicasStartTogether(t *testing.T) {
	databaseURL := testenv.PostgresURL(t)
	cfg, err := loadConfig(writeConfig(t, t.TempDir(), ""), envFunc([]string{"ORDERBOT_DATABASE_URL=" + databaseURL}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			a, _, hub, err := openConversations(ctx, cfg, slog.New(slog.DiscardHandler), conversationOptions{})
			if err != nil {
				errs[i] = err
				return
			}
			hub.Close(ctx)
			a.Close()
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	store, err := sqlstore.Open(ctx, databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if cat, err := store.Catalog(ctx); err != nil || len(cat.Products) != 21 {
		t.Fatalf("catalog: %v; want the demo's 21 products once", err)
	}
}

// redisServer is a Redis of the test's own, which it stops and starts
// again: its data survives in its append-only file, as in production.
type redisServer struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &redisServer{t: t, port: port, dir: t.TempDir()}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) start() {
	r.t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			r.t.Fatal("redis-server is missing; scripts/services.sh installs it")
		}
		r.t.Skip("redis-server is missing; run make test, which installs it")
	}
	r.cmd = exec.Command(path, "--bind", "127.0.0.1", "--port", fmt.Sprint(r.port), "--dir", r.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.port))
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *redisServer) stop() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	r.cmd.Wait()
	r.cmd = nil
}

// status is the status of GET path on a replica, 0 when it does not answer.
func (r *replica) status(path string) int {
	resp, err := http.Get("http://" + r.addr + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Redis restarts in the middle of a conversation: meanwhile the replica
// stays up, is not ready, and answers with an apology; once Redis is back
// it answers again, the conversation goes on where it was, and the orders
// placed before are all there (they are in PostgreSQL).
func TestServeRedisRestart(t *testing.T) {
	databaseURL := testenv.PostgresURL(t)
	rs := startRedis(t)
	fake := telegramtest.NewServer(t)
	r := startReplica(t, fleetEnv(t, fake, databaseURL, rs.url()))
	f := &fleet{t: t, fake: fake, replicas: []*replica{r}}
	play := func(c *fleetCustomer, steps []conversationStep) {
		t.Helper()
		for j, s := range steps {
			f.post(s.send(c), 0)
			if !c.shows(s.want) {
				t.Fatalf("user %d, step %d: no %q", c.user.ID, j, s.want)
			}
		}
	}
	before := &fleetCustomer{t: t, fake: fake, user: telegramtest.NewUser(81001, "en")}
	play(before, orderSteps)
	during := &fleetCustomer{t: t, fake: fake, user: telegramtest.NewUser(81002, "en")}
	play(during, orderSteps[:6]) // two pens in the cart

	rs.stop()
	if r.status("/readyz") != http.StatusServiceUnavailable {
		t.Fatal("ready with Redis down")
	}
	play(during, []conversationStep{{func(c *fleetCustomer) tgbotapi.Update { return c.fake.Text(c.user, "/cart") }, "Sorry, something went wrong"}})
	if r.status("/healthz") != http.StatusOK {
		t.Fatalf("the replica is down:\n%s", r.logs.String())
	}

	rs.start()
	deadline := time.Now().Add(30 * time.Second)
	for r.status("/readyz") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("not ready again after Redis came back:\n%s", r.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	play(during, []conversationStep{{func(c *fleetCustomer) tgbotapi.Update { return c.fake.Text(c.user, "/cart") }, "× 2 = ¥5.00"}})
	play(during, orderSteps[6:])

	ctx := context.Background()
	store, err := sqlstore.Open(ctx, databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if list, err := store.Orders(ctx, orders.Filter{}); err != nil || len(list) != 2 {
		t.Fatalf("%d orders, %v; want both", len(list), err)
	}

	// The metrics tell the story: orders placed, messages handled and the
	// one that failed, steps timed, the outbox and the 429s.
	resp, err := http.Get("http://" + r.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"orderbot_orders_placed_total 2",
		`orderbot_messages_total{channel="telegram",outcome="error"} 1`,
		`orderbot_messages_total{channel="telegram",outcome="ok"}`,
		`orderbot_step_seconds_bucket{channel="telegram",le="0.05"}`,
		"orderbot_outbox_backlog ",
		"orderbot_outbox_oldest_age_seconds ",
		`orderbot_rate_limited_total{channel="telegram"} 0`,
		`orderbot_shared_limit_failures_total{channel="telegram"} `,
		`orderbot_messages_dropped_total{reason="duplicate"}`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(string(body), "Li Lei") || strings.Contains(string(body), "8613800138000") {
		t.Error("/metrics shows a customer's details")
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// replyServer is a minimal Bot API for load: it answers what the bot calls
// and tells, per chat, when a reply arrived. The full fake (telegramtest)
// records every call for assertions; this one stays out of the way.
type replyServer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	waiters map[string]chan time.Time
	nextID  int
}

func newReplyServer() *replyServer {
	rs := &replyServer{waiters: map[string]chan time.Time{}}
	rs.srv = httptest.NewServer(http.HandlerFunc(rs.serve))
	return rs
}

func (rs *replyServer) chat(id string) chan time.Time {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	ch, ok := rs.waiters[id]
	if !ok {
		ch = make(chan time.Time, 16)
		rs.waiters[id] = ch
	}
	return ch
}

func (rs *replyServer) serve(w http.ResponseWriter, r *http.Request) {
	method := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	r.ParseForm()
	io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	switch method {
	case "getMe":
		io.WriteString(w, `{"ok":true,"result":{"id":1,"is_bot":true,"first_name":"Shop","username":"shop_bot"}}`)
	case "sendMessage", "editMessageText", "sendPhoto":
		chat := r.Form.Get("chat_id")
		rs.mu.Lock()
		rs.nextID++
		id := rs.nextID
		rs.mu.Unlock()
		rs.chat(chat) <- time.Now()
		fmt.Fprintf(w, `{"ok":true,"result":{"message_id":%d,"date":1,"chat":{"id":%s,"type":"private"},"text":"ok"}}`, id, chat)
	default:
		io.WriteString(w, `{"ok":true,"result":true}`)
	}
}

// BenchmarkServeWebhook measures updates per second through `orderbot serve`
// in webhook mode on the default SQLite setup, and the latency of each from
// the webhook request to the reply reaching the Bot API: 64 customers each
// send their next message once the previous one was answered.
func BenchmarkServeWebhook(b *testing.B) {
	rs := newReplyServer()
	defer rs.srv.Close()
	dir := b.TempDir()
	cfgPath := filepath.Join(dir, "orderbot.yaml")
	if err := os.WriteFile(cfgPath, []byte("log:\n  level: error\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	const secret = "bench-secret"
	env := envFunc([]string{
		"ORDERBOT_DATABASE_URL=sqlite:" + filepath.Join(dir, "orderbot.db"),
		"ORDERBOT_CONFIG=" + cfgPath,
		"ORDERBOT_HTTP_ADDR=127.0.0.1:0",
		"TELEGRAM_BOT_TOKEN=1:bench",
		"TELEGRAM_API_ENDPOINT=" + rs.srv.URL,
		"TELEGRAM_WEBHOOK_URL=https://bot.example.com/hook",
		"TELEGRAM_WEBHOOK_SECRET=" + secret,
	})
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve"}, env, strings.NewReader(""), pw, io.Discard); pw.Close() }()
	var addr string
	buf := make([]byte, 256)
	n, _ := pr.Read(buf)
	addr = strings.TrimSpace(strings.TrimPrefix(string(buf[:n]), "orderbot serving on http://"))
	go io.Copy(io.Discard, pr)
	defer func() {
		cancel()
		<-done
	}()
	url := "http://" + addr + "/hook"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}

	const customers = 32
	var next int64
	var mu sync.Mutex
	var latencies []time.Duration
	post := func(user int64, update int64, text string) (time.Duration, error) {
		body, _ := json.Marshal(map[string]any{
			"update_id": update,
			"message": map[string]any{
				"message_id": update, "date": 1, "text": text,
				"from": map[string]any{"id": user, "is_bot": false, "first_name": "U", "language_code": "en"},
				"chat": map[string]any{"id": user, "type": "private"},
			},
		})
		wait := rs.chat(strconv.FormatInt(user, 10))
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("webhook answered %d", resp.StatusCode)
		}
		select {
		case at := <-wait:
			return at.Sub(start), nil
		case <-time.After(10 * time.Second):
			return 0, fmt.Errorf("no reply to update %d", update)
		}
	}
	texts := []string{"/cart", "/menu", "/orders", "/help"}
	b.ResetTimer()
	var wg sync.WaitGroup
	per := (b.N + customers - 1) / customers
	for c := 0; c < customers; c++ {
		wg.Add(1)
		go func(user int64) {
			defer wg.Done()
			var mine []time.Duration
			for i := 0; i < per; i++ {
				mu.Lock()
				next++
				id := next
				mu.Unlock()
				d, err := post(user, id, texts[i%len(texts)])
				if err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, d)
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		}(int64(100000 + c))
	}
	wg.Wait()
	b.StopTimer()
	if len(latencies) == 0 {
		return
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(len(latencies))/b.Elapsed().Seconds(), "updates/s")
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
}

package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// orderbotBinary builds orderbot once, with -race when the tests run with
// it (the build cache then holds every package already).
func orderbotBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "orderbench-bin"); buildErr != nil {
			return
		}
		binary = filepath.Join(buildDir, "orderbot")
		args := []string{"build", "-o", binary}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, "../orderbot")...).CombinedOutput()
		if err != nil {
			buildErr = err
			binary = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build orderbot: %v\n%s", buildErr, binary)
	}
	return binary
}

// The whole tool against the real server: orderbench starts `orderbot
// serve` on SQLite with its Bot API, 20 customers each place an order, and
// every order is in the database afterwards.
func TestOrdersThroughServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs orderbot serve")
	}
	bin := orderbotBinary(t)
	dir := t.TempDir()
	catalog, err := filepath.Abs("testdata/catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "orderbot.yaml")
	if err := os.WriteFile(cfg, []byte("log:\n  level: warn\ncatalog:\n  file: "+catalog+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"ORDERBOT_DATABASE_URL=sqlite:" + filepath.Join(dir, "orderbot.db"),
		"ORDERBOT_CONFIG=" + cfg,
		"PATH=" + os.Getenv("PATH"),
	}
	var stdout, stderr strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := run(ctx, []string{
		"-api-listen", "127.0.0.1:0", "-target", "http://127.0.0.1:0/telegram/webhook", "-customers", "20", "-conversations", "20",
		"-variant", "Black,Blue", "-quantity", "2", "-json", "--", bin, "serve",
	}, env, &stdout, &lockedWriter{w: &stderr})
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	var r report
	if err := json.Unmarshal([]byte(stdout.String()), &r); err != nil {
		t.Fatalf("%v:\n%s", err, stdout.String())
	}
	if r.Conversations.Started != 20 || r.Conversations.Completed != 20 || r.Messages != 240 || r.Answered != 240 || r.Errors != 0 {
		t.Fatalf("report %+v\nstderr:\n%s", r, stderr.String())
	}
	if r.Throughput <= 0 || r.LatencyMS.P50 <= 0 || r.LatencyMS.P50 > r.LatencyMS.P99 || r.LatencyMS.P99 > r.LatencyMS.Max {
		t.Fatalf("figures %+v", r)
	}

	list := exec.Command(bin, "orders", "list", "--limit", "1000")
	list.Env = env
	out, err := list.CombinedOutput()
	if err != nil {
		t.Fatalf("orders list: %v\n%s", err, out)
	}
	orders := 0
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, "OB-") {
			orders++
			if f := strings.Fields(line); f[1] != "pending_shipment" || f[3] != "2" || f[len(f)-1] != "telegram" {
				t.Errorf("order %q", line)
			}
		}
	}
	if orders != 20 {
		t.Fatalf("%d orders in the database, want 20:\n%s", orders, out)
	}
}

// A server that cannot start fails the run quickly, with its words.
func TestServerThatExitsFailsTheRun(t *testing.T) {
	var stdout, stderr strings.Builder
	code := run(context.Background(), []string{
		"-api-listen", "127.0.0.1:0", "-target", "http://127.0.0.1:0/hook", "-start-timeout", "20s",
		"--", "sh", "-c", "echo no database >&2; exit 3",
	}, os.Environ(), &stdout, &lockedWriter{w: &stderr})
	if code != 1 || !strings.Contains(stderr.String(), "no database") || !strings.Contains(stderr.String(), "exit status 3") {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Fatalf("a report without a run:\n%s", stdout.String())
	}
}

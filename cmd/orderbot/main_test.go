package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// binary is the orderbot binary built once for the subprocess tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "orderbot-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "orderbot")
	build := exec.Command("go", "build", "-race", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is a test environment: its own database in a temporary directory and
// no configuration file.
func testEnv(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	return []string{
		"ORDERBOT_DATABASE_URL=sqlite:" + filepath.Join(dir, "orderbot.db"),
		"ORDERBOT_CONFIG=" + writeConfig(t, dir, ""),
		"PATH=" + os.Getenv("PATH"),
	}
}

// writeConfig writes a configuration file with a fast notifier.
func writeConfig(t *testing.T, dir, extra string) string {
	t.Helper()
	path := filepath.Join(dir, "orderbot.yaml")
	cfg := "notifier:\n  interval: 100ms\n  min_backoff: 100ms\n  lease: 3s\n" + extra
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runCmd runs the binary to completion.
func runCmd(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// jsonlChat drives `orderbot chat --jsonl` as a subprocess.
type jsonlChat struct {
	t     *testing.T
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan map[string]any
	last  []map[string]any

	stderr   *bytes.Buffer
	stopOnce sync.Once
	stopErr  error
}

// stop closes the chat's input, as a user ending the session does, and
// waits for the process to exit cleanly.
func (c *jsonlChat) stop() error {
	c.stopOnce.Do(func() {
		c.in.Close()
		done := make(chan error, 1)
		go func() { done <- c.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				c.stopErr = fmt.Errorf("exited with %v; stderr:\n%s", err, c.stderr.String())
			}
		case <-time.After(15 * time.Second):
			c.cmd.Process.Kill()
			c.stopErr = fmt.Errorf("did not exit after its input closed")
		}
	})
	return c.stopErr
}

func startChat(t *testing.T, env []string, args ...string) *jsonlChat {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"chat", "--jsonl"}, args...)...)
	cmd.Env = env
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &jsonlChat{t: t, cmd: cmd, in: in, lines: make(chan map[string]any, 100)}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				m = map[string]any{"bad_json": sc.Text()}
			}
			c.lines <- m
		}
	}()
	c.stderr = &stderr
	t.Cleanup(func() {
		if err := c.stop(); err != nil {
			t.Errorf("chat: %v", err)
		}
	})
	return c
}

// send writes one input object and returns the bot's messages up to
// end_of_turn.
func (c *jsonlChat) send(v map[string]string) []map[string]any {
	c.t.Helper()
	data, _ := json.Marshal(v)
	if _, err := c.in.Write(append(data, '\n')); err != nil {
		c.t.Fatal(err)
	}
	var got []map[string]any
	deadline := time.After(20 * time.Second)
	for {
		select {
		case m, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("chat ended before end_of_turn; got %v", got)
			}
			if _, bad := m["bad_json"]; bad {
				c.t.Fatalf("output is not JSON: %v", m)
			}
			if m["end_of_turn"] == true {
				c.last = got
				return got
			}
			got = append(got, m)
		case <-deadline:
			c.t.Fatalf("no end_of_turn after %v; got %v", v, got)
		}
	}
}

func (c *jsonlChat) say(text string) []map[string]any {
	return c.send(map[string]string{"text": text})
}

func (c *jsonlChat) press(label string) []map[string]any {
	c.t.Helper()
	for _, m := range c.last {
		rows, _ := m["buttons"].([]any)
		for _, row := range rows {
			for _, b := range row.([]any) {
				if l := b.(map[string]any)["label"].(string); strings.Contains(l, label) {
					return c.send(map[string]string{"button": l})
				}
			}
		}
	}
	c.t.Fatalf("no button %q in %v", label, c.last)
	return nil
}

func contains(msgs []map[string]any, s string) bool {
	for _, m := range msgs {
		if t, _ := m["text"].(string); strings.Contains(t, s) {
			return true
		}
	}
	return false
}

// waitNotification waits for a pushed message containing s.
func (c *jsonlChat) waitNotification(s string) {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-c.lines:
			if !ok {
				c.t.Fatal("chat ended while waiting for a notification")
			}
			if t, _ := m["text"].(string); m["notification"] == true && strings.Contains(t, s) {
				return
			}
		case <-deadline:
			c.t.Fatalf("no notification containing %q", s)
		}
	}
}

func orderNumber(t *testing.T, msgs []map[string]any) string {
	t.Helper()
	for _, m := range msgs {
		text, _ := m["text"].(string)
		if i := strings.Index(text, "OB-"); i >= 0 && len(text) >= i+10 {
			return text[i : i+10]
		}
	}
	t.Fatalf("no order number in %v", msgs)
	return ""
}

// TestChatPlacesOrderAndReceivesStatus runs the real binary: a customer
// orders in `chat --jsonl`, an operator ships the order with `orders
// advance`, and the notification appears in the running chat.
func TestChatPlacesOrderAndReceivesStatus(t *testing.T) {
	env := append(testEnv(t), "ORDERBOT_LOG_LEVEL=debug")
	c := startChat(t, env, "--user", "alice")
	c.say("/start")
	c.press("Browse")
	c.press("Office")
	msgs := c.press("Gel pen")
	if !contains(msgs, "Choose an option") {
		t.Fatalf("product page: %v", msgs)
	}
	c.press("Black")
	c.say("2")
	c.press("Check out")
	c.say("88 Century Avenue, Pudong, Shanghai")
	c.say("Li Lei")
	c.say("+86 138 0013 8000")
	c.press("Pay on delivery")
	msgs = c.press("Confirm order")
	if !contains(msgs, "is placed") {
		t.Fatalf("confirmation: %v", msgs)
	}
	number := orderNumber(t, msgs)

	out, errOut, code := runCmd(t, env, "orders", "advance", number, "shipped", "--tracking", "SF1234567")
	if code != 0 {
		t.Fatalf("orders advance: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, number) {
		t.Fatalf("orders advance printed %q", out)
	}
	c.waitNotification("has shipped, tracking SF1234567")

	out, _, code = runCmd(t, env, "orders", "show", number)
	if code != 0 || !strings.Contains(out, "pending_shipment → shipped") || !strings.Contains(out, "by operator") {
		t.Fatalf("orders show: exit %d:\n%s", code, out)
	}

	if err := c.stop(); err != nil {
		t.Fatal(err)
	}
	logs := c.stderr.String()
	if !strings.Contains(logs, "level=") {
		t.Fatalf("no debug logs to check:\n%s", logs)
	}
	for _, private := range []string{"Century", "Li Lei", "138", "8000", "Gel pen"} {
		if strings.Contains(logs, private) {
			t.Fatalf("logs contain %q:\n%s", private, logs)
		}
	}
}

// TestNotificationWaitsForTheChat: a status change made while the customer's
// chat is closed is delivered when it opens again, once.
func TestNotificationWaitsForTheChat(t *testing.T) {
	env := testEnv(t)
	c := startChat(t, env, "--user", "bob", "--lang", "zh")
	c.say("/start")
	c.press("浏览")
	c.press("办公")
	c.press("中性笔")
	c.press("黑色")
	c.say("两")
	c.press("去结算")
	c.say("上海市浦东新区世纪大道88号")
	c.say("韩梅梅")
	c.say("13800138000")
	c.press("货到付款")
	number := orderNumber(t, c.press("确认下单"))
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}

	if _, errOut, code := runCmd(t, env, "orders", "advance", number, "shipped"); code != 0 {
		t.Fatal(errOut)
	}
	c2 := startChat(t, env, "--user", "bob")
	c2.waitNotification("您的订单 " + number + " 已发货")
	// The first turn after a restart still answers normally.
	if msgs := c2.say("/orders"); !contains(msgs, "您的订单") {
		t.Fatalf("orders after restart: %v", msgs)
	}
	if err := c2.stop(); err != nil {
		t.Fatal(err)
	}
	c3 := startChat(t, env, "--user", "bob")
	c3.say("/menu")
	for {
		select {
		case m := <-c3.lines:
			if m["notification"] == true {
				t.Fatalf("notification delivered twice: %v", m)
			}
		case <-time.After(700 * time.Millisecond):
			return
		}
	}
}

func TestJSONLBadInput(t *testing.T) {
	c := startChat(t, testEnv(t))
	for _, line := range []string{`{"text":`, `[]`, `{"text":"a","button":"b"}`, `{"foo":1}`, `{}`} {
		if _, err := c.in.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-c.lines:
			if _, ok := m["error"]; !ok {
				t.Fatalf("%s: got %v, want an error object", line, m)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no answer", line)
		}
		if m := <-c.lines; m["end_of_turn"] != true {
			t.Fatalf("%s: got %v, want end_of_turn", line, m)
		}
	}
	if msgs := c.say("/start"); !contains(msgs, "Welcome") {
		t.Fatalf("after bad lines: %v", msgs)
	}
}

func TestOperatorCommands(t *testing.T) {
	env := testEnv(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("currency: CNY\ncategories:\n  - id: x\n    name: {en: X}\n    bogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     []string
		code     int
		inOutput string
	}{
		{"migrate", []string{"migrate"}, 0, "up to date"},
		{"import demo", []string{"catalog", "import", "../../configs/catalog.yaml"}, 0, "added"},
		{"import again", []string{"catalog", "import", "../../configs/catalog.yaml"}, 0, "unchanged"},
		{"list catalog", []string{"catalog", "list"}, 0, "STOCK"},
		{"malformed catalog", []string{"catalog", "import", bad}, 1, "line 5"},
		{"missing catalog", []string{"catalog", "import", filepath.Join(dir, "nope.yaml")}, 1, "no such file"},
		{"unknown order", []string{"orders", "show", "OB-2345678"}, 1, "not found"},
		{"advance unknown", []string{"orders", "advance", "OB-2345678", "shipped"}, 1, "not found"},
		{"bad status", []string{"orders", "advance", "OB-2345678", "teleported"}, 1, "unknown status"},
		{"list empty", []string{"orders", "list", "--status", "shipped"}, 0, "NUMBER"},
		{"list bad status", []string{"orders", "list", "--status", "lost"}, 1, "unknown status"},
		{"missing args", []string{"orders", "advance", "OB-2345678"}, 2, "Usage"},
		{"unknown command", []string{"fly"}, 2, "unknown command"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), c.args, envFunc(env), strings.NewReader(""), &out, &errOut)
			if code != c.code || !strings.Contains(out.String()+errOut.String(), c.inOutput) {
				t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant %q", code, c.code, out.String(), errOut.String(), c.inOutput)
			}
		})
	}
}

func TestForbiddenTransition(t *testing.T) {
	env := testEnv(t)
	c := startChat(t, env, "--user", "carol")
	c.say("/start")
	c.press("Browse")
	c.press("Office")
	c.press("Gel pen")
	c.press("Black")
	c.say("1")
	c.press("Check out")
	c.say("88 Century Avenue, Shanghai")
	c.say("Carol")
	c.say("+1 415 555 2671")
	c.press("Pay on delivery")
	number := orderNumber(t, c.press("Confirm order"))
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"orders", "advance", number, "completed"}, envFunc(env), strings.NewReader(""), &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "cannot become completed") {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
}

func envFunc(env []string) func(string) string {
	return func(k string) string {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				return v
			}
		}
		return ""
	}
}

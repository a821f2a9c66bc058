// Command orderbench is a load generator for `orderbot serve` in Telegram
// webhook mode. It runs a minimal Bot API server of its own, plays many
// simulated customers through whole conversations (browse, choose, check
// out, pay on delivery, confirm) by posting Telegram updates to the
// webhook, each step waiting for the bot's reply at the fake Bot API, and
// prints the throughput and the end-to-end latency percentiles: a step's
// latency runs from the start of its webhook POST to the arrival at the
// fake Bot API of the bot's message that answers it.
//
//	orderbench [flags] [-- COMMAND ARGS...]
//
// With a command (`orderbot serve`), orderbench starts it once per target
// after its Bot API listens, with TELEGRAM_BOT_TOKEN, TELEGRAM_API_ENDPOINT,
// TELEGRAM_WEBHOOK_URL, TELEGRAM_WEBHOOK_SECRET and ORDERBOT_HTTP_ADDR set
// for that target, waits for /healthz, plays the load and stops it with
// SIGTERM. Without one it waits (up to -start-timeout) for servers started
// by hand with those variables to answer /healthz.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

const usage = `orderbench — plays simulated Telegram customers against orderbot serve

Usage:
  orderbench [flags] [-- COMMAND ARGS...]

With a command (e.g. -- bin/orderbot serve), it is started once per -target
with the Telegram variables pointing at orderbench's Bot API, and stopped at
the end. Exit status: 0, 1 when the error rate is over -max-error-rate or a
server failed, 2 for a bad command line.

Flags:
`

// options are the command line.
type options struct {
	apiListen     string
	targets       []*url.URL
	secret, token string
	customers     int
	conversations int64
	duration      time.Duration
	warmup        time.Duration
	rate          float64
	timeout       time.Duration
	startTimeout  time.Duration
	maxErrorRate  float64
	category      string
	product       string
	variants      []string
	quantity      int
	idBase        int64
	json          bool
	cpuProfile    string
	plumbing      bool   // play against plumbingBot, the baseline, instead of servers
	plumbingRedis string // plumbingBot's Redis URL; "": none
	command       []string
}

// targetList is the repeatable, comma-separated -target flag.
type targetList []*url.URL

func (t *targetList) String() string {
	var s []string
	for _, u := range *t {
		s = append(s, u.String())
	}
	return strings.Join(s, ",")
}

func (t *targetList) Set(v string) error {
	for _, s := range splitList(v) {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%q is not an http(s) URL", s)
		}
		*t = append(*t, u)
	}
	return nil
}

// defaultTarget is where `orderbot serve` listens by default, with the
// webhook path the README suggests.
const defaultTarget = "http://127.0.0.1:8080/telegram/webhook"

// parseOptions reads the command line; -h prints the usage to out.
func parseOptions(args []string, out io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("orderbench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var targets targetList
	var variants string
	fs.StringVar(&o.apiListen, "api-listen", "127.0.0.1:9001", "`address` of the fake Bot API server (port 0: any free port)")
	fs.Var(&targets, "target", "webhook `URL` of a server; repeat or separate with commas for several replicas, used in turn; port 0: a free port for each server started with a command (default "+defaultTarget+")")
	fs.StringVar(&o.secret, "secret", "orderbench-secret", "the webhook's secret `token`")
	fs.StringVar(&o.token, "token", "1:orderbench", "bot `token` given to the servers started with a command")
	fs.IntVar(&o.customers, "customers", 32, "customers playing at the same time")
	fs.Int64Var(&o.conversations, "conversations", 1000, "conversations to play in all (no limit when only -duration is given)")
	fs.DurationVar(&o.duration, "duration", 0, "start conversations for this long (those under way finish)")
	fs.DurationVar(&o.warmup, "warmup", 0, "leave the messages sent in this first part of the run out of the throughput and latencies")
	fs.Float64Var(&o.rate, "rate", 0, "messages per second in all, open loop (0: as fast as the customers get replies)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "longest wait for a step's reply")
	fs.DurationVar(&o.startTimeout, "start-timeout", time.Minute, "longest wait for the servers to be ready")
	fs.Float64Var(&o.maxErrorRate, "max-error-rate", 0, "share of messages that may fail before the exit status is 1")
	fs.StringVar(&o.category, "category", "Office", "label (a part of it) of the category to browse")
	fs.StringVar(&o.product, "product", "Gel pen", "label of the product to choose")
	fs.StringVar(&variants, "variant", "Black", "labels of the variants to choose, comma-separated: conversations take them in turn")
	fs.IntVar(&o.quantity, "quantity", 1, "quantity to type")
	fs.Int64Var(&o.idBase, "id-base", 0, "chat and update ids start above this (0: from the clock, so that runs against one database never meet)")
	fs.BoolVar(&o.json, "json", false, "print the result as JSON")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write orderbench's own CPU profile during the load to `file`")
	fs.BoolVar(&o.plumbing, "plumbing", false, "play against orderbench's own plumbing bot, the baseline: the least a bot does for a message (read it, one Bot API call, answer the webhook), on each -target (port 0: a free one)")
	fs.StringVar(&o.plumbingRedis, "plumbing-redis", "", "with -plumbing, the Redis `URL` on which the plumbing bot makes a serve replica's round trips for each message (the lease, which reads the session; the session's save; the release)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(out, usage)
			fs.SetOutput(out)
			fs.PrintDefaults()
		}
		return nil, err
	}
	if rest := fs.Args(); len(rest) > 0 {
		if at := len(args) - len(rest) - 1; at < 0 || args[at] != "--" {
			return nil, fmt.Errorf("unexpected argument %q (a command goes after --)", rest[0])
		}
		o.command = rest
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.duration > 0 && !set["conversations"] {
		o.conversations = 0
	}
	if len(targets) == 0 {
		targets.Set(defaultTarget)
	}
	o.targets = targets
	o.variants = splitList(variants)
	if o.idBase == 0 {
		// Milliseconds × 1000 leaves room for a thousand ids a millisecond
		// of the run and stays below 2^53, exact in any JSON reader.
		o.idBase = time.Now().UnixMilli() * 1000
	}
	switch {
	case o.customers < 1:
		return nil, errors.New("-customers must be at least 1")
	case o.conversations < 0, o.duration < 0, o.warmup < 0, o.rate < 0, o.quantity < 1:
		return nil, errors.New("-conversations, -duration, -warmup, -rate must not be negative, -quantity at least 1")
	case o.duration > 0 && o.warmup >= o.duration:
		return nil, errors.New("-warmup must be shorter than -duration")
	case o.conversations == 0 && o.duration == 0:
		return nil, errors.New("give -conversations or -duration")
	case o.timeout <= 0 || o.startTimeout <= 0:
		return nil, errors.New("-timeout and -start-timeout must be positive")
	case len(o.variants) == 0 || o.category == "" || o.product == "":
		return nil, errors.New("-category, -product and -variant must not be empty")
	}
	switch {
	case o.plumbing && len(o.command) > 0:
		return nil, errors.New("-plumbing plays against orderbench's own bot: no command")
	case o.plumbingRedis != "" && !o.plumbing:
		return nil, errors.New("-plumbing-redis goes with -plumbing")
	}
	for _, t := range o.targets {
		if t.Port() == "0" && len(o.command) == 0 && !o.plumbing {
			return nil, fmt.Errorf("-target %s: port 0 is for servers started with a command", t)
		}
	}
	return o, nil
}

// run is the whole program, testable end to end: it returns the exit code.
// environ is the environment given to the servers it starts.
func run(ctx context.Context, args []string, environ []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "orderbench: %v (orderbench -h lists the flags)\n", err)
		return 2
	}
	if err := bench(ctx, o, environ, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "orderbench: %v\n", err)
		return 1
	}
	return 0
}

// bench serves the fake Bot API, starts the servers when there is a
// command, waits for them, plays the load and prints the report. It fails
// when a server failed or the error rate is over the limit.
func bench(ctx context.Context, o *options, environ []string, stdout, stderr io.Writer) (err error) {
	api := newBotAPI()
	ln, err := net.Listen("tcp", o.apiListen)
	if err != nil {
		return fmt.Errorf("the fake Bot API: %w", err)
	}
	apiSrv := &http.Server{Handler: api, ReadHeaderTimeout: 5 * time.Second}
	go apiSrv.Serve(ln)
	defer apiSrv.Close()
	apiURL := "http://" + ln.Addr().String()

	var exited <-chan error
	webhooks := 0
	switch {
	case o.plumbing:
		stop, err := startPlumbing(o, apiURL)
		if err != nil {
			return err
		}
		defer stop()
		with := ""
		if o.plumbingRedis != "" {
			with = " with Redis"
		}
		fmt.Fprintf(stderr, "orderbench: playing against the plumbing bot (the baseline)%s\n", with)
	case len(o.command) > 0:
		if err := pickPorts(o.targets); err != nil {
			return err
		}
		r, err := startReplicas(o.command, o.targets, environ, apiURL, o.token, o.secret, stderr)
		if err != nil {
			return err
		}
		// Serve finishes the messages in flight at SIGTERM, within its
		// hub's timeout (30 s by default).
		defer func() { err = errors.Join(err, r.stop(45*time.Second)) }()
		exited, webhooks = r.exited, len(o.targets)
	default:
		fmt.Fprintf(stderr, "orderbench: waiting for %s; start the servers with TELEGRAM_API_ENDPOINT=%s TELEGRAM_WEBHOOK_SECRET=%s\n",
			(*targetList)(&o.targets).String(), apiURL, o.secret)
	}
	readyCtx, cancel := context.WithTimeout(ctx, o.startTimeout)
	err = waitReady(readyCtx, o.targets, api, webhooks, exited)
	cancel()
	if err != nil {
		return err
	}

	loadCtx, stopLoad := context.WithCancelCause(ctx)
	defer stopLoad(nil)
	go func() {
		select {
		case err := <-exited: // a server died: stop at once
			stopLoad(err)
		case <-loadCtx.Done():
		}
	}()
	if o.cpuProfile != "" {
		stop, err := startProfile(o.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	l := newLoad(o, api)
	calls := api.calls.Load() // those of the start: getMe, setWebhook, setMyCommands
	t, elapsed := l.run(loadCtx, o.customers)
	rep := newReport(t, elapsed, o.warmup)
	rep.Targets, rep.Customers, rep.Rate = len(o.targets), o.customers, o.rate
	rep.Unsolicited, rep.APICalls, rep.InAnswers = api.unsolicited.Load(), api.calls.Load()-calls, api.inAnswers.Load()
	rep.Methods = api.methods()
	if o.json {
		err = rep.writeJSON(stdout)
	} else {
		err = rep.writeText(stdout)
	}
	if err != nil {
		return err
	}
	switch cause := context.Cause(loadCtx); {
	case ctx.Err() != nil:
		return errors.New("interrupted")
	case cause != nil:
		return cause
	case rep.errorRate() > o.maxErrorRate:
		return fmt.Errorf("%d of %d messages failed (%.3f %%; -max-error-rate is %g)", rep.Errors, rep.Messages, 100*rep.errorRate(), o.maxErrorRate)
	}
	return nil
}

// newLoad prepares the run the options describe.
func newLoad(o *options, api *botAPI) *load {
	var targets []string
	for _, t := range o.targets {
		targets = append(targets, t.String())
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = o.customers * len(targets)
	transport.MaxIdleConnsPerHost = o.customers
	l := &load{
		api:      api,
		client:   &http.Client{Transport: transport},
		targets:  targets,
		secret:   o.secret,
		botID:    botID(o.token),
		variants: o.variants,
		script: func(variant string) []step {
			return conversation(o.category, o.product, variant, strconv.Itoa(o.quantity))
		},
		timeout:       o.timeout,
		pace:          newPacer(o.rate),
		warmup:        o.warmup,
		conversations: o.conversations,
		idBase:        o.idBase,
	}
	if o.duration > 0 {
		l.deadline = time.Now().Add(o.duration)
	}
	return l
}

// startProfile writes a CPU profile to path until stop is called.
func startProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// replicas are the `orderbot serve` processes orderbench started, one per
// target.
type replicas struct {
	procs  []*exec.Cmd
	done   []chan struct{} // closed when the process has exited
	exited chan error      // each process's exit, as it happens
}

// replicaEnv is the environment of the replica serving target: the
// operator's, with Telegram pointed at the fake Bot API in webhook mode
// and the HTTP listener on the target's address.
func replicaEnv(environ []string, target *url.URL, apiURL, token, secret string) []string {
	return append(environ,
		"TELEGRAM_BOT_TOKEN="+token,
		"TELEGRAM_API_ENDPOINT="+apiURL,
		"TELEGRAM_WEBHOOK_URL="+target.String(),
		"TELEGRAM_WEBHOOK_SECRET="+secret,
		"ORDERBOT_HTTP_ADDR="+target.Host,
	)
}

// pickPorts gives each target on port 0 a free port of its host.
func pickPorts(targets []*url.URL) error {
	for _, t := range targets {
		if t.Port() != "0" {
			continue
		}
		ln, err := net.Listen("tcp", t.Host)
		if err != nil {
			return fmt.Errorf("-target %s: %w", t, err)
		}
		t.Host = ln.Addr().String()
		ln.Close()
	}
	return nil
}

// startReplicas runs command once per target with replicaEnv; the
// processes' output goes to out.
func startReplicas(command []string, targets []*url.URL, environ []string, apiURL, token, secret string, out io.Writer) (*replicas, error) {
	r := &replicas{exited: make(chan error, len(targets))}
	out = &lockedWriter{w: out}
	for _, t := range targets {
		cmd := exec.Command(command[0], command[1:]...)
		cmd.Env = replicaEnv(environ, t, apiURL, token, secret)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			r.stop(time.Second)
			return nil, fmt.Errorf("start %s: %w", command[0], err)
		}
		done := make(chan struct{})
		r.procs, r.done = append(r.procs, cmd), append(r.done, done)
		go func() {
			err := cmd.Wait()
			close(done)
			if err == nil {
				err = errors.New("exited")
			}
			r.exited <- fmt.Errorf("replica on %s: %w", t.Host, err)
		}()
	}
	return r, nil
}

// stop asks every replica to finish (SIGTERM), kills those still running
// after grace, and returns the first failed exit.
func (r *replicas) stop(grace time.Duration) error {
	for i, p := range r.procs {
		select {
		case <-r.done[i]:
		default:
			p.Process.Signal(syscall.SIGTERM)
		}
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	var errs []error
	for i, p := range r.procs {
		select {
		case <-r.done[i]:
		case <-timer.C:
			p.Process.Kill()
			<-r.done[i]
			errs = append(errs, fmt.Errorf("replica %d did not stop within %v: killed", i+1, grace))
			continue
		}
		if code := p.ProcessState.ExitCode(); code != 0 {
			errs = append(errs, fmt.Errorf("replica %d exited with %s", i+1, p.ProcessState))
		}
	}
	return errors.Join(errs...)
}

// waitReady waits until every target answers GET /healthz and, when
// webhooks > 0, the Bot API has seen that many setWebhook calls (each
// replica registers its webhook at start). A replica that exits meanwhile
// ends the wait. exited may be nil.
func waitReady(ctx context.Context, targets []*url.URL, api *botAPI, webhooks int, exited <-chan error) error {
	client := &http.Client{Timeout: time.Second}
	ready := make([]bool, len(targets))
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		all := api.webhooks.Load() >= int64(webhooks)
		for i, t := range targets {
			if !ready[i] {
				ready[i] = healthy(ctx, client, t)
			}
			all = all && ready[i]
		}
		if all {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("targets not ready: %w", context.Cause(ctx))
		case err := <-exited:
			return err
		case <-tick.C:
		}
	}
}

// healthy reports whether the server of target answers GET /healthz.
func healthy(ctx context.Context, client *http.Client, target *url.URL) bool {
	u := url.URL{Scheme: target.Scheme, Host: target.Host, Path: "/healthz"}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// lockedWriter serialises the writes of several processes' output.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

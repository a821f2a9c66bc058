package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// profiler serves Go's profiler, /debug/pprof/, on a listener of its own
// (http.debug_addr), apart from the public one: its pages show the
// program's insides and can make it work hard.
type profiler struct {
	ln  net.Listener
	srv *http.Server
}

// listenProfiler listens on addr for the profiler; nil when addr is "".
func listenProfiler(addr string, logger *slog.Logger) (*profiler, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	logger.Info("profiler serving", "addr", ln.Addr().String())
	pages := http.NewServeMux()
	pages.HandleFunc("/debug/pprof/", pprof.Index)
	pages.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	pages.HandleFunc("/debug/pprof/profile", pprof.Profile)
	pages.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	pages.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return &profiler{ln: ln, srv: &http.Server{Handler: pages, ReadHeaderTimeout: 5 * time.Second}}, nil
}

// close stops the profiler, served or not.
func (p *profiler) close() {
	p.srv.Close()
	p.ln.Close()
}

// serve serves the profiler until ctx is done.
func (p *profiler) serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { p.srv.Close() })
	defer stop()
	if err := p.srv.Serve(p.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("profiler: %w", err)
	}
	return nil
}

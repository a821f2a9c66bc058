package main

import (
	"strings"
	"testing"
	"time"
)

func ms(n ...int) []time.Duration {
	var d []time.Duration
	for _, v := range n {
		d = append(d, time.Duration(v)*time.Millisecond)
	}
	return d
}

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	thousand := make([]time.Duration, 1000)
	for i := range thousand {
		thousand[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"none", nil, 50, 0},
		{"one value is every percentile", ms(7), 0.1, 7 * time.Millisecond},
		{"one value, max", ms(7), 100, 7 * time.Millisecond},
		{"median of four is the second", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"median of five is the third", ms(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"p50 of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p90 of 1..100", hundred, 90, 90 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p99.9 of 1..100 is the max", hundred, 99.9, 100 * time.Millisecond},
		{"p99.9 of 1..1000", thousand, 99.9, 999 * time.Millisecond},
		{"max", thousand, 100, 1000 * time.Millisecond},
		{"a tiny p is the min", thousand, 0.0001, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%d values, %v) = %v, want %v", len(tt.sorted), tt.p, got, tt.want)
			}
		})
	}
}

func TestReportAddsUpTheCustomers(t *testing.T) {
	a := tally{started: 3, completed: 2, sent: 30, measured: 30, answered: 29, timeouts: 1, latencies: ms(4, 1, 3)}
	b := tally{started: 1, completed: 1, sent: 12, measured: 12, answered: 12, latencies: ms(2)}
	b.sample("chat %d: no reply", 7)
	var total tally
	total.add(&a)
	total.add(&b)
	r := newReport(&total, 2*time.Second, 0)
	if r.Conversations.Started != 4 || r.Conversations.Completed != 3 || r.Messages != 42 || r.Measured != 42 || r.Answered != 41 {
		t.Errorf("counts: %+v", r)
	}
	if r.Errors != 1 || r.Timeouts != 1 {
		t.Errorf("errors: %+v", r)
	}
	if r.Throughput != 21 {
		t.Errorf("throughput %v, want 21 msgs/s", r.Throughput)
	}
	if l := r.LatencyMS; l.P50 != 2 || l.Max != 4 || l.Mean != 2.5 {
		t.Errorf("latency %+v, want p50 2, max 4, mean 2.5", l)
	}
	if got := r.errorRate(); got != 1.0/42 {
		t.Errorf("error rate %v", got)
	}
	var out strings.Builder
	if err := r.writeText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"4 started, 3 completed", "42 in 2.00 s: 21 msgs/s", "p50 2.00", "error: chat 7: no reply"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestTallyKeepsFewSamples(t *testing.T) {
	var total tally
	for i := range 3 {
		var c tally
		for j := range 4 {
			c.sample("customer %d error %d", i, j)
		}
		total.add(&c)
	}
	if len(total.samples) != maxSamples || total.samples[0] != "customer 0 error 0" {
		t.Fatalf("samples %q", total.samples)
	}
}

func TestReportLeavesTheWarmupOut(t *testing.T) {
	total := tally{sent: 50, measured: 30, answered: 50, latencies: ms(1, 2, 3)}
	r := newReport(&total, 4*time.Second, time.Second)
	if r.Throughput != 10 || r.Messages != 50 || r.Measured != 30 || r.Warmup != 1 {
		t.Fatalf("report %+v, want 30 messages in the 3 s after the warm-up", r)
	}
	var out strings.Builder
	r.writeText(&out)
	if !strings.Contains(out.String(), "50 in 4.00 s; after the 1 s warm-up 30: 10 msgs/s") {
		t.Fatalf("report:\n%s", out.String())
	}
	if r := newReport(&total, time.Second, time.Second); r.Throughput != 0 {
		t.Fatalf("a run no longer than its warm-up has a throughput: %+v", r)
	}
}

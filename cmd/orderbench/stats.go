package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// tally is what one customer counted; the customers' tallies are added up
// at the end, so that no lock is taken per message.
type tally struct {
	started, completed int
	sent               int             // updates posted
	measured           int             // updates posted after the warm-up
	answered           int             // steps with a reply
	timeouts           int             // steps with no reply within the timeout
	unexpected         int             // steps answered, but never with the expected text
	refused            int             // posts that failed or that the webhook refused
	latencies          []time.Duration // of the measured updates
	samples            []string        // the first few errors, described
}

// maxSamples is how many errors are described in the report.
const maxSamples = 5

func (t *tally) add(o *tally) {
	t.started += o.started
	t.completed += o.completed
	t.sent += o.sent
	t.measured += o.measured
	t.answered += o.answered
	t.timeouts += o.timeouts
	t.unexpected += o.unexpected
	t.refused += o.refused
	t.latencies = append(t.latencies, o.latencies...)
	for _, s := range o.samples {
		if len(t.samples) < maxSamples {
			t.samples = append(t.samples, s)
		}
	}
}

func (t *tally) errors() int { return t.timeouts + t.unexpected + t.refused }

// sample keeps an error's description if there is room.
func (t *tally) sample(format string, args ...any) {
	if len(t.samples) < maxSamples {
		t.samples = append(t.samples, fmt.Sprintf(format, args...))
	}
}

// percentile is the nearest-rank percentile p (0 < p ≤ 100) of sorted
// durations: the smallest value that at least p % of them do not exceed.
// It is 0 for no durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// Less a hair: 99.9 % of 1000 is 999.0000000000001 in floating point.
	rank := int(math.Ceil(p/100*float64(len(sorted)) - 1e-9))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// report is the result of a run; -json prints it as it is.
type report struct {
	Targets       int     `json:"targets"`
	Customers     int     `json:"customers"`
	Rate          float64 `json:"rate"` // the target rate in messages/s; 0: as fast as possible
	Seconds       float64 `json:"seconds"`
	Warmup        float64 `json:"warmup_seconds"` // at the start, left out of the throughput and latencies
	Conversations struct {
		Started   int `json:"started"`
		Completed int `json:"completed"` // the order was placed
	} `json:"conversations"`
	Messages    int   `json:"messages"` // updates posted
	Measured    int   `json:"measured"` // updates posted after the warm-up
	Answered    int   `json:"answered"`
	Errors      int   `json:"errors"`
	Timeouts    int   `json:"timeouts"`
	Unexpected  int   `json:"unexpected"`
	Refused     int   `json:"refused"`
	Unsolicited int64 `json:"unsolicited"` // bot messages after a conversation ended (notifications)
	APICalls    int64 `json:"api_calls"`   // Bot API calls the servers made in the whole run
	InAnswers   int64 `json:"in_answers"`  // methods the servers called in webhook answers instead
	// Methods counts the calls by method, the whole run's: those made at
	// the start (getMe, setWebhook…) too, those in webhook answers apart.
	Methods     map[string]int64 `json:"methods,omitempty"`
	Throughput  float64          `json:"msgs_per_s"` // measured updates per second after the warm-up
	LatencyMS   latency          `json:"latency_ms"` // of the measured updates
	ErrorSample []string         `json:"error_samples,omitempty"`
}

// latency are the end-to-end latency percentiles, in milliseconds.
type latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99.9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// newReport sums up a run of elapsed time whose first warmup was not
// measured.
func newReport(t *tally, elapsed, warmup time.Duration) report {
	r := report{
		Seconds: elapsed.Seconds(), Warmup: warmup.Seconds(),
		Messages: t.sent, Measured: t.measured, Answered: t.answered,
		Errors: t.errors(), Timeouts: t.timeouts, Unexpected: t.unexpected, Refused: t.refused,
		ErrorSample: t.samples,
	}
	r.Conversations.Started, r.Conversations.Completed = t.started, t.completed
	if measured := elapsed - warmup; measured > 0 {
		r.Throughput = float64(t.measured) / measured.Seconds()
	}
	lat := slices.Clone(t.latencies)
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	r.LatencyMS = latency{
		P50: ms(percentile(lat, 50)), P90: ms(percentile(lat, 90)), P99: ms(percentile(lat, 99)),
		P999: ms(percentile(lat, 99.9)), Max: ms(percentile(lat, 100)),
	}
	if len(lat) > 0 {
		var sum time.Duration
		for _, d := range lat {
			sum += d
		}
		r.LatencyMS.Mean = ms(sum / time.Duration(len(lat)))
	}
	return r
}

// errorRate is the share of messages that failed.
func (r report) errorRate() float64 {
	if r.Messages == 0 {
		return 0
	}
	return float64(r.Errors) / float64(r.Messages)
}

func (r report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r report) writeText(w io.Writer) error {
	var b strings.Builder
	pace := "as fast as possible"
	if r.Rate > 0 {
		pace = fmt.Sprintf("at %.0f msgs/s", r.Rate)
	}
	fmt.Fprintf(&b, "%d customers, %d target(s), %s\n", r.Customers, r.Targets, pace)
	fmt.Fprintf(&b, "conversations  %d started, %d completed (order placed)\n", r.Conversations.Started, r.Conversations.Completed)
	if r.Warmup > 0 {
		fmt.Fprintf(&b, "messages       %d in %.2f s; after the %.0f s warm-up %d: %.0f msgs/s\n", r.Messages, r.Seconds, r.Warmup, r.Measured, r.Throughput)
	} else {
		fmt.Fprintf(&b, "messages       %d in %.2f s: %.0f msgs/s\n", r.Messages, r.Seconds, r.Throughput)
	}
	fmt.Fprintf(&b, "answered       %d; errors %d (no reply %d, unexpected reply %d, refused %d)\n", r.Answered, r.Errors, r.Timeouts, r.Unexpected, r.Refused)
	l := r.LatencyMS
	fmt.Fprintf(&b, "latency (ms)   p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f  mean %.2f\n", l.P50, l.P90, l.P99, l.P999, l.Max, l.Mean)
	if r.Messages > 0 {
		fmt.Fprintf(&b, "Bot API        %d calls, %.2f a message; %d more in webhook answers\n", r.APICalls, float64(r.APICalls)/float64(r.Messages), r.InAnswers)
		names := slices.Sorted(maps.Keys(r.Methods))
		for _, m := range names {
			fmt.Fprintf(&b, "               %-34s %d\n", m, r.Methods[m])
		}
	}
	if r.Unsolicited > 0 {
		fmt.Fprintf(&b, "notifications  %d after their conversation ended\n", r.Unsolicited)
	}
	for _, s := range r.ErrorSample {
		fmt.Fprintf(&b, "error: %s\n", s)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

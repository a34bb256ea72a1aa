package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/matcher"
)

// Metrics are the server's metrics, in their own set, served in the
// Prometheus text format. The library is a small one
// (VictoriaMetrics/metrics): the otpknock binary is also the client,
// which pays every linked package's initialisation at each start.
type Metrics struct {
	set      *metrics.Set
	families map[string]family                 // # HELP and # TYPE of each metric family
	packets  map[derive.Proto]*metrics.Counter // resolved once: counted per packet
	events   map[matcher.Kind]*metrics.Counter // sequences by outcome
	knocks   map[matcher.Kind]*metrics.Counter // packet knocks by outcome
	saveErrs *metrics.Counter
	repairs  *metrics.Counter
	// logSuppressed counts replays and refused sources not logged (see
	// eventLog).
	logSuppressed *metrics.Counter

	mu      sync.Mutex
	saveErr error // the last state save's failure, nil after a success
}

// family is a metric family's type ("counter", "gauge") and help text.
type family struct{ typ, help string }

// newMetrics registers the metrics of d; the gauges read its matcher and
// source when scraped.
func newMetrics(d *Daemon) *Metrics {
	m := &Metrics{set: metrics.NewSet(), families: map[string]family{}}
	m.packets = map[derive.Proto]*metrics.Counter{}
	for _, r := range derive.ProtoTable() {
		m.packets[r.Proto] = m.counter("otpknock_packets_total", "Knock packets received, by protocol.", "proto", r.Name)
	}
	m.events, m.knocks = map[matcher.Kind]*metrics.Counter{}, map[matcher.Kind]*metrics.Counter{}
	for _, k := range matcher.Kinds() {
		m.events[k] = m.counter("otpknock_sequences_total", "Completed sequences by outcome: grant, replay, refused or duplicate (a copy of the last grant).", "outcome", k.String())
		m.knocks[k] = m.counter("otpknock_packet_knocks_total", "Packet knocks whose tag verified, by outcome: grant, replay, refused or duplicate (a copy of the last grant).", "outcome", k.String())
	}
	stat := func(f func(matcher.Stats) float64) func() float64 {
		return func() float64 {
			d.mu.Lock()
			defer d.mu.Unlock()
			return f(d.m.Stats())
		}
	}
	m.logSuppressed = m.counter("otpknock_log_suppressed_total",
		"Replays and refused sources not logged: only the first four sources of each (outcome, user, step, reason) are, and a summary line once the step leaves the window.")
	m.families[prefixGrantsName] = family{"counter", "Grants that opened a prefix around the granted address (a user's grant_prefix), by prefix length."}
	m.saveErrs = m.counter("otpknock_state_save_errors_total",
		"Failed saves of the used steps to the state file; /healthz is unhealthy while the last one failed.")
	// count reads a counter of the matcher's Stats, with what the
	// matchers a reload replaced counted (it never goes down).
	count := func(f func(matcher.Stats) uint64) func() float64 {
		return func() float64 {
			d.mu.Lock()
			defer d.mu.Unlock()
			return float64(f(d.m.Stats()) + f(d.replaced))
		}
	}
	m.counterFunc("otpknock_packet_bad_size_total", "Payloads on a packet knock element with a length out of range.",
		count(func(s matcher.Stats) uint64 { return s.BadSize }))
	m.counterFunc("otpknock_packet_bad_tag_total", "Payloads on a packet knock element whose tag did not verify.",
		count(func(s matcher.Stats) uint64 { return s.BadTag }))
	m.counterFunc("otpknock_packet_bad_claim_total", "Payloads whose tag verified but whose claim was malformed.",
		count(func(s matcher.Stats) uint64 { return s.BadClaim }))
	m.counterFunc("otpknock_packet_bad_signature_total", "Ed25519 knocks that passed the locator's check but not the signature: the locator secret is known to someone without the key.",
		count(func(s matcher.Stats) uint64 { return s.BadSignature }))
	m.counterFunc("otpknock_packet_signature_budget_total", "Ed25519 knocks dropped unverified over the per-second signature budget.",
		count(func(s matcher.Stats) uint64 { return s.SigOverBudget }))
	m.counterFunc("otpknock_nflog_truncated_total", "Knocks whose payload the NFLOG copy range cut (delivered without it).",
		func() float64 { return float64(d.src.Stats().Truncated) })
	m.gaugeFunc("otpknock_sources_tracked", "Sources with a sequence in progress.",
		stat(func(s matcher.Stats) float64 { return float64(s.Sources) }))
	m.counterFunc("otpknock_candidates_cancelled_total", "Sequences cancelled by strays or the source cap.",
		count(func(s matcher.Stats) uint64 { return s.Cancelled + s.Evicted }))
	m.gaugeFunc("otpknock_step_precompute_seconds", "Time the last window of sequences took to compute.",
		stat(func(s matcher.Stats) float64 { return s.Precompute.Seconds() }))
	m.counterFunc("otpknock_nflog_lost_total", "Packets logged by the kernel but not received.",
		func() float64 { return float64(d.src.Stats().Lost) })
	m.counterFunc("otpknock_nflog_malformed_total", "Logged packets that did not decode.",
		func() float64 { return float64(d.src.Stats().Malformed) })
	m.counterFunc("otpknock_nflog_forged_total", "Netlink datagrams refused unread: sent to the NFLOG socket by a process, not the kernel.",
		func() float64 { return float64(d.src.Stats().Forged) })
	m.repairs = m.counter("otpknock_firewall_repairs_total",
		"Reinstalls of the firewall after the periodic check found a piece of it missing or changed (a firewall reload, iptables -F).")
	// The kernel's pre-filter (all zero for a backend without one).
	m.gaugeFunc("otpknock_filter_elements", "Elements the last window armed in the kernel's pre-filter.",
		func() float64 { return float64(d.filter.stats().Elements) })
	m.gaugeFunc("otpknock_filter_arm_seconds", "Time the last arming of the kernel's pre-filter took.",
		func() float64 { return d.filter.stats().ArmTime.Seconds() })
	m.counterFunc("otpknock_filter_sources_tracked_total", "Sources the kernel's pre-filter was told to pass (a sequence started from them).",
		func() float64 { return float64(d.filter.stats().Tracked) })
	m.counterFunc("otpknock_filter_sources_dropped_total", "Sources the daemon did not add to the kernel's source sets: its queue or its room was full, or they came in a flood (the packet path tracked them).",
		func() float64 { return float64(d.filter.stats().Dropped) })
	m.counterFunc("otpknock_filter_errors_total", "Failed updates of the kernel's pre-filter.",
		func() float64 { return float64(d.filter.stats().Failures) })
	return m
}

// prefixGrantsName is the counter of prefix grants.
const prefixGrantsName = "otpknock_prefix_grants_total"

// prefixGrant counts a grant of pfx, a prefix wider than one address,
// under its length ("/24"): a label of at most 129 values.
func (m *Metrics) prefixGrant(pfx netip.Prefix) {
	m.set.GetOrCreateCounter(fmt.Sprintf("%s{prefix=\"/%d\"}", prefixGrantsName, pfx.Bits())).Inc()
}

// counter registers the counter name, with one label (label, value)
// when given, in a family with help.
func (m *Metrics) counter(name, help string, labelValue ...string) *metrics.Counter {
	m.families[name] = family{"counter", help}
	if len(labelValue) == 2 {
		name += fmt.Sprintf("{%s=%q}", labelValue[0], labelValue[1])
	}
	return m.set.NewCounter(name)
}

// counterFunc registers a counter whose value f reads when scraped.
func (m *Metrics) counterFunc(name, help string, f func() float64) {
	m.families[name] = family{"counter", help}
	m.set.NewGauge(name, f)
}

// gaugeFunc registers a gauge whose value f reads when scraped.
func (m *Metrics) gaugeFunc(name, help string, f func() float64) {
	m.families[name] = family{"gauge", help}
	m.set.NewGauge(name, f)
}

func (m *Metrics) packet(p derive.Proto) {
	if c, ok := m.packets[p]; ok {
		c.Inc()
	}
}

// event counts a completed sequence or a verified packet knock.
func (m *Metrics) event(mode derive.Mode, k matcher.Kind) {
	counters := m.events
	if mode == derive.ModePacket {
		counters = m.knocks
	}
	if c, ok := counters[k]; ok {
		c.Inc()
	}
}

// repaired counts a reinstall after the periodic check.
func (m *Metrics) repaired() { m.repairs.Inc() }

// saved records the outcome of a state save.
func (m *Metrics) saved(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saveErr = err
	if err != nil {
		m.saveErrs.Inc()
	}
}

// health returns why the server is unhealthy, or nil.
func (m *Metrics) health() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.saveErr != nil {
		return fmt.Errorf("the last save of the used steps failed: %w", m.saveErr)
	}
	return nil
}

// WritePrometheus writes the metrics in the Prometheus text format
// (version 0.0.4): families sorted by name, each with its # HELP and
// # TYPE lines, then its samples sorted by label.
func (m *Metrics) WritePrometheus(w io.Writer) error {
	var samples, out bytes.Buffer
	m.set.WritePrometheus(&samples)
	prev := ""
	for line := range strings.Lines(samples.String()) {
		name := line[:strings.IndexAny(line, "{ ")]
		if f := m.families[name]; name != prev {
			fmt.Fprintf(&out, "# HELP %s %s\n# TYPE %s %s\n", name, f.help, name, f.typ)
			prev = name
		}
		out.WriteString(line)
	}
	_, err := out.WriteTo(w)
	return err
}

// Handler serves /metrics and /healthz: "ok", or status 503 and the
// reason while the last save of the used steps failed.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		m.WritePrometheus(w)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := m.health(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "unhealthy: %v\n", err)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// ListenAndServe serves the metrics on addr until ctx is done.
func (m *Metrics) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics_listen: %w", err)
	}
	return m.Serve(ctx, ln)
}

// Serve serves the metrics on ln until ctx is done, and closes ln.
func (m *Metrics) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 5 * time.Second}
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

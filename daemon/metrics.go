package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/matcher"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the server's Prometheus metrics, in their own registry.
type Metrics struct {
	Registry *prometheus.Registry
	packets  map[derive.Proto]prometheus.Counter // resolved once: counted per packet
	events   *prometheus.CounterVec              // sequences by outcome
	knocks   *prometheus.CounterVec              // packet knocks by outcome
	saveErrs prometheus.Counter
	repairs  prometheus.Counter

	mu      sync.Mutex
	saveErr error // the last state save's failure, nil after a success
}

// newMetrics registers the metrics of d; the gauges read its matcher and
// source when scraped.
func newMetrics(d *Daemon) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	packets := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "otpknock_packets_total",
		Help: "Knock packets received, by protocol."}, []string{"proto"})
	m.packets = map[derive.Proto]prometheus.Counter{}
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "otpknock_sequences_total",
		Help: "Completed sequences by outcome: grant, replay or refused."}, []string{"outcome"})
	for _, p := range []derive.Proto{derive.TCP, derive.UDP, derive.ICMP} {
		m.packets[p] = packets.WithLabelValues(p.String())
	}
	m.knocks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "otpknock_packet_knocks_total",
		Help: "Packet knocks whose tag verified, by outcome: grant, replay or refused."}, []string{"outcome"})
	for _, k := range []matcher.Kind{matcher.Grant, matcher.Replay, matcher.Refused} {
		m.events.WithLabelValues(k.String())
		m.knocks.WithLabelValues(k.String())
	}
	stat := func(f func(matcher.Stats) float64) func() float64 {
		return func() float64 {
			d.mu.Lock()
			defer d.mu.Unlock()
			return f(d.m.Stats())
		}
	}
	m.saveErrs = prometheus.NewCounter(prometheus.CounterOpts{Name: "otpknock_state_save_errors_total",
		Help: "Failed saves of the used steps to the state file; /healthz is unhealthy while the last one failed."})
	// count reads a counter of the matcher's Stats, with what the
	// matchers a reload replaced counted (it never goes down).
	count := func(f func(matcher.Stats) uint64) func() float64 {
		return func() float64 {
			d.mu.Lock()
			defer d.mu.Unlock()
			return float64(f(d.m.Stats()) + f(d.replaced))
		}
	}
	m.repairs = prometheus.NewCounter(prometheus.CounterOpts{Name: "otpknock_firewall_repairs_total",
		Help: "Reinstalls of the firewall after the periodic check found a piece of it missing or changed (a firewall reload, iptables -F)."})
	m.Registry.MustRegister(packets, m.events, m.knocks, m.saveErrs, m.repairs,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "otpknock_packet_bad_size_total", Help: "Payloads on a packet knock element with a length out of range."},
			count(func(s matcher.Stats) uint64 { return s.BadSize })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "otpknock_packet_bad_tag_total", Help: "Payloads on a packet knock element whose tag did not verify."},
			count(func(s matcher.Stats) uint64 { return s.BadTag })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "otpknock_packet_bad_claim_total", Help: "Payloads whose tag verified but whose claim was malformed."},
			count(func(s matcher.Stats) uint64 { return s.BadClaim })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "otpknock_nflog_truncated_total", Help: "Knocks whose payload the NFLOG copy range cut (delivered without it)."},
			func() float64 { return float64(d.src.Stats().Truncated) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "otpknock_sources_tracked", Help: "Sources with a sequence in progress."},
			stat(func(s matcher.Stats) float64 { return float64(s.Sources) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "otpknock_candidates_cancelled_total", Help: "Sequences cancelled by strays or the source cap."},
			count(func(s matcher.Stats) uint64 { return s.Cancelled + s.Evicted })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "otpknock_step_precompute_seconds", Help: "Time the last window of sequences took to compute."},
			stat(func(s matcher.Stats) float64 { return s.Precompute.Seconds() })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "otpknock_nflog_lost_total", Help: "Packets logged by the kernel but not received."},
			func() float64 { return float64(d.src.Stats().Lost) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "otpknock_nflog_malformed_total", Help: "Logged packets that did not decode."},
			func() float64 { return float64(d.src.Stats().Malformed) }),
	)
	// The kernel's pre-filter (all zero for a backend without one).
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "otpknock_filter_elements", Help: "Elements the last window armed in the kernel's pre-filter."},
			func() float64 { return float64(d.filter.stats().Elements) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "otpknock_filter_arm_seconds", Help: "Time the last arming of the kernel's pre-filter took."},
			func() float64 { return d.filter.stats().ArmTime.Seconds() }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "otpknock_filter_sources_tracked_total", Help: "Sources the kernel's pre-filter was told to pass (a sequence started from them)."},
			func() float64 { return float64(d.filter.stats().Tracked) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "otpknock_filter_sources_dropped_total", Help: "Sources not tracked because the queue to the kernel was full."},
			func() float64 { return float64(d.filter.stats().Dropped) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "otpknock_filter_errors_total", Help: "Failed updates of the kernel's pre-filter."},
			func() float64 { return float64(d.filter.stats().Failures) }),
	)
	return m
}

func (m *Metrics) packet(p derive.Proto) {
	if c, ok := m.packets[p]; ok {
		c.Inc()
	}
}

// event counts a completed sequence or a verified packet knock.
func (m *Metrics) event(mode derive.Mode, k matcher.Kind) {
	if mode == derive.ModePacket {
		m.knocks.WithLabelValues(k.String()).Inc()
		return
	}
	m.events.WithLabelValues(k.String()).Inc()
}

// saved records the outcome of a state save.
func (m *Metrics) saved(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saveErr = err
	if err != nil {
		m.saveErrs.Inc()
	}
}

// repaired counts a reinstall of the firewall.
func (m *Metrics) repaired() { m.repairs.Inc() }

// health returns why the server is unhealthy, or nil.
func (m *Metrics) health() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.saveErr != nil {
		return fmt.Errorf("the last save of the used steps failed: %w", m.saveErr)
	}
	return nil
}

// Handler serves /metrics and /healthz: "ok", or status 503 and the
// reason while the last save of the used steps failed.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
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

// Package metrics defines auditfwd's Prometheus metrics (docs/metrics.md). Every
// package gets the one *Metrics it needs injected; nothing here is global.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/auditfwd/auditfwd/internal/buildinfo"
)

// Metrics holds every collector auditfwd exports.
type Metrics struct {
	Registry *prometheus.Registry

	LogLines          *prometheus.CounterVec // kind
	EventsRouted      *prometheus.CounterVec // channel
	EventsUnrouted    prometheus.Counter
	EventsDelivered   *prometheus.CounterVec // channel
	SlackMessages     *prometheus.CounterVec // channel
	DeliveryFailures  *prometheus.CounterVec // channel, reason
	DeadLettered      *prometheus.CounterVec // channel, reason
	SlackRequestTime  *prometheus.HistogramVec
	DeliveryLag       *prometheus.HistogramVec
	QueueEvents       *prometheus.GaugeVec // channel
	LogLagBytes       prometheus.Gauge
	SlackConnected    prometheus.Gauge
	ReloadSuccessful  prometheus.Gauge
	ReloadSuccessTime prometheus.Gauge
	BuildInfo         *prometheus.GaugeVec
	EventsRepeated    *prometheus.CounterVec // channel
	StateDirWritable  prometheus.Gauge
	MessageUpdates    *prometheus.CounterVec // channel: thread parents edited

	// The Postgres source (docs/high-availability.md). With the file
	// source, Leader and SourceUp are 1 and the others stay 0.
	Leader          prometheus.Gauge
	SourceUp        prometheus.Gauge
	SourceLag       prometheus.Gauge
	ChainBreaks     prometheus.Counter
	ThreadsEvicted  *prometheus.CounterVec // channel: threads forgotten to make room
	Redactions      *prometheus.CounterVec // detector: values redacted in messages Slack took
	TemplateErrors  *prometheus.CounterVec // channel: events whose title template failed
	AuditLogPresent prometheus.Gauge       // 0 while the audit log file does not exist
}

// DeadLetterReasons and FailureReasons are the reasons whose series exist
// at 0 from start-up for every channel, so that an alert on increase() sees
// the first one (a series born at 1 shows no increase).
var (
	DeadLetterReasons = []string{"channel_not_found", "not_in_channel", "is_archived"}
	FailureReasons    = []string{"channel_not_found", "not_in_channel", "is_archived", "http_5xx", "timeout", "network", "ratelimited"}
)

// LineKinds are the values of auditfwd_log_lines_total's kind label.
var LineKinds = []string{"event", "not_audit", "malformed", "oversized"}

// New creates the metrics on a fresh registry with the Go and process
// collectors. version labels auditfwd_build_info; its commit, build date and
// Go version are this binary's (buildinfo).
func New(version string) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		LogLines: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditfwd_log_lines_total",
			Help: "Lines read from the audit log, by kind (event, not_audit, malformed, oversized).",
		}, []string{"kind"}),
		EventsRouted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditfwd_events_routed_total",
			Help: "Audit events routed to a channel.",
		}, []string{"channel"}),
		EventsUnrouted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "auditfwd_events_unrouted_total",
			Help: "Audit events no rule routed anywhere.",
		}),
		EventsDelivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditfwd_events_delivered_total",
			Help: "Audit events Slack accepted, by channel.",
		}, []string{"channel"}),
		SlackMessages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditfwd_slack_messages_total",
			Help: "Slack messages posted, by channel (fewer than events when digested).",
		}, []string{"channel"}),
		DeliveryFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditfwd_delivery_failures_total",
			Help: "Failed Slack delivery attempts, by channel and reason.",
		}, []string{"channel", "reason"}),
		DeadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditfwd_events_dead_lettered_total",
			Help: "Audit events Slack rejected for good, written to dead-letter.jsonl.",
		}, []string{"channel", "reason"}),
		SlackRequestTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "auditfwd_slack_request_duration_seconds",
			Help:    "Duration of Slack Web API requests, by method.",
			Buckets: []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15},
		}, []string{"method"}),
		DeliveryLag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "auditfwd_delivery_lag_seconds",
			Help:    "Time from an event's timestamp to Slack accepting it, by channel.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400},
		}, []string{"channel"}),
		QueueEvents: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "auditfwd_queue_events",
			Help: "Events waiting for delivery, by channel.",
		}, []string{"channel"}),
		LogLagBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "auditfwd_log_lag_bytes",
			Help: "Bytes of the audit log not read yet.",
		}),
		SlackConnected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "auditfwd_slack_connected",
			Help: "1 when a valid Slack token is in use, else 0.",
		}),
		ReloadSuccessful: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "auditfwd_config_last_reload_successful",
			Help: "Whether the last configuration reload succeeded.",
		}),
		ReloadSuccessTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "auditfwd_config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration load or reload.",
		}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "auditfwd_build_info",
			Help: "Build information; the value is always 1.",
		}, []string{"version", "commit", "build_date", "goversion"}),
		EventsRepeated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditfwd_events_already_queued_total",
			Help: "Events read again (after a restart or a held-back write) that their channel's queue already held; not queued twice.",
		}, []string{"channel"}),
		StateDirWritable: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "auditfwd_state_dir_writable",
			Help: "1, or 0 while writes to state_dir fail and reading the audit log is held back.",
		}),
		MessageUpdates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditfwd_slack_message_updates_total",
			Help: "Thread parent messages edited with chat.update, by channel.",
		}, []string{"channel"}),
		Leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "auditfwd_leader",
			Help: "1 on the instance that delivers; 0 on a standby (audit_log.source: postgres).",
		}),
		SourceUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "auditfwd_source_up",
			Help: "1 while the gateway's database answers (always 1 with the file source).",
		}),
		SourceLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "auditfwd_source_lag_events",
			Help: "Rows of the gateway's audit table not read yet (0 on a standby and with the file source).",
		}),
		ChainBreaks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "auditfwd_chain_breaks_total",
			Help: "Breaks found in the audit table's hash chain (a gap in chain_index or a previous_hash that does not link).",
		}),
		ThreadsEvicted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditfwd_threads_evicted_total",
			Help: "Slack threads forgotten before their window to make room in the thread table, by channel.",
		}, []string{"channel"}),
		AuditLogPresent: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "auditfwd_audit_log_present",
			Help: "1 while the audit log file exists, 0 while auditfwd waits for it to appear (is audit_log.path right?).",
		}),
		Redactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditfwd_redactions_total",
			Help: "Values redacted in messages Slack accepted, by detector (a built-in detector, field for redact.fields, pattern for redact.patterns).",
		}, []string{"detector"}),
		TemplateErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditfwd_template_errors_total",
			Help: "Events whose rule's title template failed (shown with the default heading), by channel (the rule).",
		}, []string{"channel"}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.LogLines, m.EventsRouted, m.EventsUnrouted, m.EventsDelivered, m.SlackMessages,
		m.DeliveryFailures, m.DeadLettered, m.SlackRequestTime, m.DeliveryLag, m.QueueEvents,
		m.LogLagBytes, m.SlackConnected, m.ReloadSuccessful, m.ReloadSuccessTime, m.BuildInfo,
		m.EventsRepeated, m.StateDirWritable, m.MessageUpdates, m.ThreadsEvicted, m.Redactions, m.TemplateErrors,
		m.Leader, m.SourceUp, m.SourceLag, m.ChainBreaks, m.AuditLogPresent,
	)
	m.StateDirWritable.Set(1)
	m.Leader.Set(1)
	m.SourceUp.Set(1)
	build := buildinfo.Get()
	m.BuildInfo.WithLabelValues(version, build.Commit, build.Date, build.GoVersion).Set(1)
	for _, k := range LineKinds {
		m.LogLines.WithLabelValues(k)
	}
	return m
}

// InitDetectors gives auditfwd_redactions_total a sample at 0 for each
// detector name, so that an alert on increase() sees the first redaction.
func (m *Metrics) InitDetectors(names []string) {
	for _, n := range names {
		m.Redactions.WithLabelValues(n)
	}
}

// InitChannel gives every per-channel series a sample from start-up, so a
// dashboard or an alert sees 0 rather than nothing.
func (m *Metrics) InitChannel(name string) {
	m.EventsRouted.WithLabelValues(name)
	m.EventsDelivered.WithLabelValues(name)
	m.SlackMessages.WithLabelValues(name)
	m.QueueEvents.WithLabelValues(name)
	m.EventsRepeated.WithLabelValues(name)
	m.MessageUpdates.WithLabelValues(name)
	m.ThreadsEvicted.WithLabelValues(name)
	m.TemplateErrors.WithLabelValues(name)
	for _, r := range FailureReasons {
		m.DeliveryFailures.WithLabelValues(name, r)
	}
	for _, r := range DeadLetterReasons {
		m.DeadLettered.WithLabelValues(name, r)
	}
}

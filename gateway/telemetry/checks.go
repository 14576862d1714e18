package telemetry

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/refract-gateway/refract/policy/checks"
)

// checkSeries makes the named pre-call checks' series, for NewMetrics to
// register.
func (m *Metrics) checkSeries() []prometheus.Collector {
	m.checkDecisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "refract_check_decisions_total",
		Help: "Pre-call checks asked, by check and outcome (allowed, denied, failed_open, failed_closed, cancelled).",
	}, []string{"check", "outcome"})
	m.checkDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "refract_check_duration_seconds",
		Help:    "Time a pre-call check took to decide (or to fail, or to be cancelled), by check.",
		Buckets: latencyBuckets(),
	}, []string{"check"})
	return []prometheus.Collector{m.checkDecisions, m.checkDuration}
}

// Check binds one named check's series (checks.Observer), every outcome
// at zero from the start. Control path: called when a check is built;
// checks are declared in config, so their names are bounded.
func (m *Metrics) Check(name string) checks.CheckObserver {
	co := &checkMetrics{duration: m.checkDuration.WithLabelValues(name)}
	for _, o := range checks.Outcomes() {
		co.outcomes = append(co.outcomes, m.checkDecisions.WithLabelValues(name, o.String()))
	}
	return co
}

// checkMetrics are one check's series, bound.
type checkMetrics struct {
	outcomes []prometheus.Counter // by checks.Outcome
	duration prometheus.Observer
}

func (c *checkMetrics) Decided(o checks.Outcome, elapsed time.Duration) {
	if int(o) >= 0 && int(o) < len(c.outcomes) {
		c.outcomes[o].Inc()
	}
	c.duration.Observe(elapsed.Seconds())
}

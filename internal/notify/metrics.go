package notify

import "github.com/prometheus/client_golang/prometheus"

// Counter counts notifications by channel (the contact method type:
// email, sms, voice, slack, teams, webhook, ntfy) and status, for the
// vigil_notifications_total series. The statuses are the notification
// log's: sent, retrying and failed at send time (Target.Send), delivered,
// undelivered and failed again when a provider's delivery callback moves
// a notification on. A nil *Counter counts nothing.
type Counter struct {
	vec *prometheus.CounterVec
}

// NewCounter registers the counter with reg (the server's registry,
// never the global default one: tests build several servers).
func NewCounter(reg prometheus.Registerer) *Counter {
	c := &Counter{vec: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_notifications_total",
		Help: "Notifications by channel and status: sent (handed to the provider), retrying (a send failed and will be retried), failed (a send failed for good, or the provider said so), delivered and undelivered (the provider's delivery callback).",
	}, []string{"channel", "status"})}
	reg.MustRegister(c.vec)
	return c
}

// Add counts one notification on channel with status.
func (c *Counter) Add(channel, status string) {
	if c != nil {
		c.vec.WithLabelValues(channel, status).Inc()
	}
}

// Count makes the target count every send attempt's outcome in c.
func (t *Target) Count(c *Counter) *Target {
	t.counter = c
	return t
}

package paging

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/notify"
)

// TestMetricDeliveryCallbacks: a provider's callback counts the status it
// moved a notification to, once; a repeat or a late status that does not
// move it counts nothing.
func TestMetricDeliveryCallbacks(t *testing.T) {
	tests := []struct {
		name      string
		callbacks []string
		want      map[string]float64
	}{
		{"delivered", []string{notify.StatusDelivered},
			map[string]float64{notify.StatusDelivered: 1}},
		{"repeated", []string{notify.StatusDelivered, notify.StatusDelivered},
			map[string]float64{notify.StatusDelivered: 1}},
		{"undelivered, then a late delivered", []string{notify.StatusUndelivered, notify.StatusDelivered},
			map[string]float64{notify.StatusUndelivered: 1}},
		{"failed at the provider", []string{notify.StatusFailed},
			map[string]float64{notify.StatusFailed: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _, _ := phoneHarness(t)
			reg := prometheus.NewRegistry()
			h.p.o.Notifications = notify.NewCounter(reg)
			p := h.page("s", alert.SeverityHigh)
			ms, _ := h.db.ListOutbox(h.ctx, "", p.WorkItemID, 0, 10)
			var n notify.Notification
			for _, m := range ms {
				if m.Target == notify.TargetName {
					_ = json.Unmarshal(m.Payload, &n)
				}
			}
			if err := h.p.RecordSend(h.ctx, n, notify.Receipt{Provider: "twilio", ProviderID: "SM1", Status: notify.StatusSent}, nil, false, time.Millisecond); err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.callbacks {
				if err := h.p.DeliveryStatus(h.ctx, "twilio", "SM1", s, ""); err != nil {
					t.Fatal(err)
				}
			}
			for _, s := range []string{notify.StatusDelivered, notify.StatusUndelivered, notify.StatusFailed} {
				if got := notificationCount(t, reg, notify.TypeSMS, s); got != tt.want[s] {
					t.Errorf("vigil_notifications_total{channel=sms,status=%s} = %v, want %v", s, got, tt.want[s])
				}
			}
		})
	}
}

// notificationCount is the value of vigil_notifications_total{channel,
// status} in reg, 0 when the child does not exist.
func notificationCount(t *testing.T, reg *prometheus.Registry, channel, status string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "vigil_notifications_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["channel"] == channel && labels["status"] == status {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

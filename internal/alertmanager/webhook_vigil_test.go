package alertmanager

import (
	"errors"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/validation"
)

func TestWebhookVigilAlerts(t *testing.T) {
	now := time.Date(2026, 8, 22, 14, 5, 0, 0, time.UTC)
	w, err := ParseWebhook(readTestdata(t, "alertmanager_webhook_v4.json"), now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.VigilAlerts(now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d alerts", len(got))
	}
	tests := []struct {
		status alert.Status
		fp     string
	}{
		{alert.StatusNew, w.Alerts[0].Fingerprint},
		{alert.StatusResolved, w.Alerts[1].Fingerprint},
	}
	for i, tt := range tests {
		a := got[i]
		if a.Status != tt.status || a.SourceID != tt.fp || a.Source != "alertmanager" {
			t.Errorf("[%d] status %s source %s/%s, want %s %s", i, a.Status, a.Source, a.SourceID, tt.status, tt.fp)
		}
		if a.Severity != alert.SeverityCritical || a.Title != "Instance down" {
			t.Errorf("[%d] severity %s title %q", i, a.Severity, a.Title)
		}
	}

	// A resolved status wins over an endsAt a skewed clock puts ahead.
	w.Alerts[1].EndsAt = now.Add(time.Minute)
	got, err = w.VigilAlerts(now)
	if err != nil || got[1].Status != alert.StatusResolved {
		t.Errorf("skewed resolved alert: %v, %v", got[1].Status, err)
	}

	// compat's own checks come back as field errors on the webhook path
	// (ParseWebhook refuses this body; a caller may build a Webhook itself).
	w.Alerts[1].EndsAt = w.Alerts[1].StartsAt.Add(-time.Minute)
	_, err = w.VigilAlerts(now)
	var fe *validation.FieldError
	if !errors.As(err, &fe) || fe.Field != "alerts[1].endsAt" {
		t.Errorf("err = %v, want a field error on alerts[1].endsAt", err)
	}

	g, err := ParseWebhook(readTestdata(t, "grafana_webhook_example.json"), now)
	if err != nil {
		t.Fatal(err)
	}
	ga, err := g.VigilAlerts(now)
	if err != nil || len(ga) != 2 || ga[0].SourceID != Fingerprint(g.Alerts[0].Labels) || ga[0].Status != alert.StatusNew {
		t.Errorf("grafana: %+v, %v", ga, err)
	}
}

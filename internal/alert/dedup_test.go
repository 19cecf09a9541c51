package alert

import (
	"regexp"
	"testing"
	"time"
)

// base is an alert without a source id, so that its DedupKey is a
// fingerprint.
func base() Alert {
	return Alert{
		Source:  "alertmanager",
		Product: "prometheus",
		Title:   "HostDown",
		Entities: []Entity{
			{Kind: EntityHost, Value: "web01"},
			{Kind: EntityIP, Value: "10.0.0.4"},
			{Kind: EntityAccount, Value: "svc"},
		},
		Severity:  SeverityHigh,
		Status:    StatusNew,
		FirstSeen: now,
		LastSeen:  now,
	}
}

func TestDedupKeyUsesSourceID(t *testing.T) {
	a := base()
	a.SourceID = "abc-123"
	if got, want := a.DedupKey(), "id:abc-123"; got != want {
		t.Errorf("DedupKey with source id = %q, want %q", got, want)
	}
	// A source id makes the key independent of the content: the sender
	// says it is the same alert even when the title changed.
	b := a
	b.Title = "Something else"
	if a.DedupKey() != b.DedupKey() {
		t.Errorf("DedupKey changed with title although the source id is the same: %q vs %q", a.DedupKey(), b.DedupKey())
	}
}

func TestDedupKeyFingerprintForm(t *testing.T) {
	a := base()
	key := a.DedupKey()
	// "fp:" and 32 hex digits (128 bits of SHA-256): short enough for an
	// index, long enough never to collide by chance.
	if !regexp.MustCompile(`^fp:[0-9a-f]{32}$`).MatchString(key) {
		t.Errorf("DedupKey = %q, want fp: and 32 hex digits", key)
	}
	if key != "fp:"+a.Fingerprint() {
		t.Errorf("DedupKey = %q, want fp:+Fingerprint() = fp:%s", key, a.Fingerprint())
	}
}

// TestFingerprintStable lists changes that must NOT change the
// fingerprint: they happen while the alert stays the same alert.
func TestFingerprintStable(t *testing.T) {
	b := base()
	want := b.Fingerprint()
	tests := []struct {
		name string
		mod  func(a *Alert)
	}{
		{"unchanged", func(a *Alert) {}},
		// Senders do not promise an entity order.
		{"entities reversed", func(a *Alert) {
			a.Entities[0], a.Entities[2] = a.Entities[2], a.Entities[0]
		}},
		{"entities rotated", func(a *Alert) {
			a.Entities = append(a.Entities[1:], a.Entities[0])
		}},
		{"severity", func(a *Alert) { a.Severity = SeverityCritical }},
		{"status", func(a *Alert) { a.Status = StatusResolved }},
		{"description", func(a *Alert) { a.Description = "now with more detail" }},
		{"times", func(a *Alert) {
			a.FirstSeen = now.Add(-time.Hour)
			a.LastSeen = now.Add(time.Hour)
		}},
		{"raw", func(a *Alert) { a.Raw = []byte(`{"x":1}`) }},
		// Entity attributes are details, not identity.
		{"entity attrs", func(a *Alert) { a.Entities[2].Attrs = map[string]string{"upn": "svc@contoso.com"} }},
		// Store-assigned fields.
		{"store fields", func(a *Alert) {
			a.ID, a.Version, a.WorkItemID = 7, 3, 9
			a.CreatedAt, a.UpdatedAt = now, now
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := base()
			tt.mod(&a)
			if got := a.Fingerprint(); got != want {
				t.Errorf("Fingerprint = %s, want %s (unchanged)", got, want)
			}
		})
	}
}

// TestFingerprintDiffers lists changes that MUST change the fingerprint:
// they make it a different alert.
func TestFingerprintDiffers(t *testing.T) {
	b := base()
	orig := b.Fingerprint()
	tests := []struct {
		name string
		mod  func(a *Alert)
	}{
		{"title", func(a *Alert) { a.Title = "HostUp" }},
		{"product", func(a *Alert) { a.Product = "node_exporter" }},
		{"source", func(a *Alert) { a.Source = "pagerduty" }},
		{"entity value", func(a *Alert) { a.Entities[1].Value = "10.0.0.5" }},
		{"entity kind", func(a *Alert) { a.Entities[0].Kind = EntityDomain }},
		{"entity added", func(a *Alert) { a.Entities = append(a.Entities, Entity{Kind: EntityURL, Value: "https://x"}) }},
		{"entity removed", func(a *Alert) { a.Entities = a.Entities[:2] }},
		{"no entities", func(a *Alert) { a.Entities = nil }},
		// The separators keep field boundaries: moving text from one
		// field into the next is a different alert.
		{"boundary product/title", func(a *Alert) {
			a.Product, a.Title = "prometheusHost", "Down"
		}},
		{"boundary source/product", func(a *Alert) {
			a.Source, a.Product = "alertmanagerprom", "etheus"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := base()
			tt.mod(&a)
			if got := a.Fingerprint(); got == orig {
				t.Errorf("Fingerprint unchanged (%s) after changing %s", got, tt.name)
			}
		})
	}
}

// TestFingerprintAfterNormalize checks that two spellings of the same
// alert dedupe once normalized, which is the order the API applies them.
func TestFingerprintAfterNormalize(t *testing.T) {
	a := Alert{Source: "AlertManager", Title: " HostDown ", Entities: []Entity{{Kind: EntityIP, Value: "2001:DB8::1"}, {Kind: EntityHost, Value: "WEB01."}}}
	b := Alert{Source: "alertmanager", Title: "HostDown", Entities: []Entity{{Kind: EntityHost, Value: "web01"}, {Kind: EntityIP, Value: "2001:db8:0::1"}}}
	for _, x := range []*Alert{&a, &b} {
		if err := x.Normalize(now); err != nil {
			t.Fatalf("Normalize: %v", err)
		}
	}
	if a.DedupKey() != b.DedupKey() {
		t.Errorf("DedupKey of two spellings of one alert differ: %q vs %q", a.DedupKey(), b.DedupKey())
	}
}

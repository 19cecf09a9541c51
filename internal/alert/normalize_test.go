package alert

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

// now is the fixed "current time" handed to Normalize.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// valid returns a minimal alert that Normalize accepts, for the error
// cases to break one field at a time.
func valid() Alert {
	return Alert{Source: "sentinel", Title: "Impossible travel"}
}

func TestNormalizeDefaults(t *testing.T) {
	earlier := now.Add(-time.Hour)
	later := now.Add(time.Hour)
	tests := []struct {
		name      string
		in        Alert
		wantSev   Severity
		wantSt    Status
		wantFirst time.Time
		wantLast  time.Time
	}{
		{
			// Senders that give neither severity nor status nor times still
			// produce a usable alert: medium, new, seen now.
			name:    "all defaults",
			in:      valid(),
			wantSev: SeverityMedium, wantSt: StatusNew, wantFirst: now, wantLast: now,
		},
		{
			// first_seen defaults to last_seen, not to now, so an old
			// alert delivered late keeps its own time.
			name:    "first seen defaults to last seen",
			in:      Alert{Source: "s", Title: "t", LastSeen: earlier},
			wantSev: SeverityMedium, wantSt: StatusNew, wantFirst: earlier, wantLast: earlier,
		},
		{
			name:    "first seen kept, last seen defaults to now",
			in:      Alert{Source: "s", Title: "t", FirstSeen: earlier},
			wantSev: SeverityMedium, wantSt: StatusNew, wantFirst: earlier, wantLast: now,
		},
		{
			// Given values are never overwritten by defaults.
			name:    "explicit values kept",
			in:      Alert{Source: "s", Title: "t", Severity: SeverityCritical, Status: StatusResolved, FirstSeen: earlier, LastSeen: later},
			wantSev: SeverityCritical, wantSt: StatusResolved, wantFirst: earlier, wantLast: later,
		},
		{
			// Severity is matched case-insensitively: Sentinel says "High".
			name:    "severity lower-cased",
			in:      Alert{Source: "s", Title: "t", Severity: "High"},
			wantSev: SeverityHigh, wantSt: StatusNew, wantFirst: now, wantLast: now,
		},
		{
			name:    "equal first and last seen are fine",
			in:      Alert{Source: "s", Title: "t", FirstSeen: earlier, LastSeen: earlier},
			wantSev: SeverityMedium, wantSt: StatusNew, wantFirst: earlier, wantLast: earlier,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.in
			if err := a.Normalize(now); err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			if a.Severity != tt.wantSev {
				t.Errorf("Severity = %q, want %q", a.Severity, tt.wantSev)
			}
			if a.Status != tt.wantSt {
				t.Errorf("Status = %q, want %q", a.Status, tt.wantSt)
			}
			if !a.FirstSeen.Equal(tt.wantFirst) {
				t.Errorf("FirstSeen = %v, want %v", a.FirstSeen, tt.wantFirst)
			}
			if !a.LastSeen.Equal(tt.wantLast) {
				t.Errorf("LastSeen = %v, want %v", a.LastSeen, tt.wantLast)
			}
		})
	}
}

func TestNormalizeTrims(t *testing.T) {
	a := Alert{
		Source:      "  Defender \t",
		SourceID:    "\n abc-123 ",
		Title:       "  Suspicious sign-in  ",
		Description: "  kept as sent  ",
	}
	if err := a.Normalize(now); err != nil {
		t.Fatalf("Normalize: %v", err)
	}
	// Source is also lower-cased: it is part of the dedup key and the
	// type mapping, which must not depend on the sender's spelling.
	if a.Source != "defender" {
		t.Errorf("Source = %q, want %q", a.Source, "defender")
	}
	if a.SourceID != "abc-123" {
		t.Errorf("SourceID = %q, want %q", a.SourceID, "abc-123")
	}
	if a.Title != "Suspicious sign-in" {
		t.Errorf("Title = %q, want %q", a.Title, "Suspicious sign-in")
	}
	// The description is free text (often Markdown) and is left alone.
	if a.Description != "  kept as sent  " {
		t.Errorf("Description = %q, want it unchanged", a.Description)
	}
}

func TestNormalizeErrors(t *testing.T) {
	tests := []struct {
		name      string
		mod       func(a *Alert)
		wantField string
	}{
		{"empty source", func(a *Alert) { a.Source = "" }, "source"},
		// Whitespace only is empty after trimming.
		{"blank source", func(a *Alert) { a.Source = "   " }, "source"},
		{"long source", func(a *Alert) { a.Source = strings.Repeat("s", 65) }, "source"},
		{"empty title", func(a *Alert) { a.Title = "" }, "title"},
		{"blank title", func(a *Alert) { a.Title = " \t\n" }, "title"},
		{"long title", func(a *Alert) { a.Title = strings.Repeat("t", MaxTitle+1) }, "title"},
		{"long description", func(a *Alert) { a.Description = strings.Repeat("d", MaxDescription+1) }, "description"},
		{"long source id", func(a *Alert) { a.SourceID = strings.Repeat("i", MaxSourceID+1) }, "source_id"},
		{"too many entities", func(a *Alert) {
			a.Entities = make([]Entity, MaxEntities+1)
			for i := range a.Entities {
				a.Entities[i] = Entity{Kind: EntityHost, Value: "h"}
			}
		}, "entities"},
		{"unknown severity", func(a *Alert) { a.Severity = "urgent" }, "severity"},
		{"unknown status", func(a *Alert) { a.Status = "open" }, "status"},
		// Entity errors carry the entity's index so that the sender can
		// find the bad one in a long list.
		{"bad entity value", func(a *Alert) {
			a.Entities = []Entity{{Kind: EntityHost, Value: "h"}, {Kind: EntityIP, Value: "not-an-ip"}}
		}, "entities[1].value"},
		{"empty entity value", func(a *Alert) { a.Entities = []Entity{{Kind: EntityHost, Value: "  "}} }, "entities[0].value"},
		{"bad entity kind", func(a *Alert) { a.Entities = []Entity{{Kind: "mailbox", Value: "x@example.com"}} }, "entities[0].kind"},
		{"last seen before first seen", func(a *Alert) {
			a.FirstSeen = now
			a.LastSeen = now.Add(-time.Second)
		}, "last_seen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := valid()
			tt.mod(&a)
			err := a.Normalize(now)
			var fe *validation.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Normalize error = %v (%T), want *validation.FieldError", err, err)
			}
			if fe.Field != tt.wantField {
				t.Errorf("Field = %q, want %q (error %q)", fe.Field, tt.wantField, err)
			}
			if fe.Message == "" {
				t.Errorf("error on %s has no message", fe.Field)
			}
		})
	}
}

// TestNormalizeLimitsInclusive checks that each limit is a maximum, not a
// bound one below it: a value of exactly the limit is accepted.
func TestNormalizeLimitsInclusive(t *testing.T) {
	a := valid()
	a.Source = strings.Repeat("s", 64)
	a.Title = strings.Repeat("t", MaxTitle)
	a.Description = strings.Repeat("d", MaxDescription)
	a.SourceID = strings.Repeat("i", MaxSourceID)
	a.Entities = make([]Entity, MaxEntities)
	for i := range a.Entities {
		a.Entities[i] = Entity{Kind: EntityHost, Value: "h"}
	}
	if err := a.Normalize(now); err != nil {
		t.Errorf("Normalize at every limit: %v, want nil", err)
	}
}

func TestEntityValidate(t *testing.T) {
	tests := []struct {
		name      string
		in        Entity
		wantValue string
		wantAttrs map[string]string // nil: no attributes
	}{
		// IP addresses are canonicalized so that the same address always
		// pivots to the same entity whatever the sender's spelling.
		{"ipv4", Entity{Kind: EntityIP, Value: " 10.0.0.4 "}, "10.0.0.4", nil},
		{"ipv6 compressed", Entity{Kind: EntityIP, Value: "2001:0DB8:0000:0000:0000:0000:0000:0001"}, "2001:db8::1", nil},
		{"ipv6 upper case", Entity{Kind: EntityIP, Value: "FE80::ABCD"}, "fe80::abcd", nil},
		{"ipv4-mapped ipv6", Entity{Kind: EntityIP, Value: "::FFFF:192.0.2.1"}, "::ffff:192.0.2.1", nil},
		{"ipv6 loopback", Entity{Kind: EntityIP, Value: "0:0:0:0:0:0:0:1"}, "::1", nil},
		// Hosts and domains are case-insensitive in DNS, and a trailing
		// dot (fully-qualified form) names the same host.
		{"host", Entity{Kind: EntityHost, Value: " VM-Web-01 "}, "vm-web-01", nil},
		{"host trailing dot", Entity{Kind: EntityHost, Value: "Web01.Contoso.COM."}, "web01.contoso.com", nil},
		{"domain", Entity{Kind: EntityDomain, Value: "Evil.Example."}, "evil.example", nil},
		// Every trailing dot goes at once, so validating again changes
		// nothing.
		{"host trailing dots", Entity{Kind: EntityHost, Value: "Web01.Example.. . "}, "web01.example", nil},
		// Accounts and cloud resources are kept as sent (only trimmed):
		// UPNs and resource ids are compared exactly by their systems.
		{"account", Entity{Kind: EntityAccount, Value: " Alice@Contoso.com ", Attrs: map[string]string{"upn": "Alice@Contoso.com"}}, "Alice@Contoso.com", map[string]string{"upn": "Alice@Contoso.com"}},
		{"cloud resource", Entity{Kind: EntityCloudResource, Value: "/subscriptions/ABC/resourceGroups/RG"}, "/subscriptions/ABC/resourceGroups/RG", nil},
		// URLs are kept byte for byte: path and query are case-sensitive.
		{"url", Entity{Kind: EntityURL, Value: " https://Example.com/Path?q=A "}, "https://Example.com/Path?q=A", nil},
		// File hashes are lower-cased and labelled by their length when
		// the sender gives no algorithm.
		{"md5", Entity{Kind: EntityFileHash, Value: strings.Repeat("AB", 16)}, strings.Repeat("ab", 16), map[string]string{"algorithm": "MD5"}},
		{"sha1", Entity{Kind: EntityFileHash, Value: strings.Repeat("0f", 20)}, strings.Repeat("0f", 20), map[string]string{"algorithm": "SHA1"}},
		{"sha256", Entity{Kind: EntityFileHash, Value: strings.Repeat("E3", 32)}, strings.Repeat("e3", 32), map[string]string{"algorithm": "SHA256"}},
		// An unknown length is still a valid hash, just unlabelled.
		{"unknown length", Entity{Kind: EntityFileHash, Value: strings.Repeat("a", 128)}, strings.Repeat("a", 128), nil},
		// The sender's algorithm wins over the length guess.
		{"explicit algorithm kept", Entity{Kind: EntityFileHash, Value: strings.Repeat("a", 64), Attrs: map[string]string{"algorithm": "SHA3-256"}}, strings.Repeat("a", 64), map[string]string{"algorithm": "SHA3-256"}},
		// Other attributes survive the inference.
		{"other attrs kept", Entity{Kind: EntityFileHash, Value: strings.Repeat("a", 32), Attrs: map[string]string{"file": "x.exe"}}, strings.Repeat("a", 32), map[string]string{"file": "x.exe", "algorithm": "MD5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.in
			if err := e.Validate(); err != nil {
				t.Fatalf("Validate(%+v): %v", tt.in, err)
			}
			if e.Value != tt.wantValue {
				t.Errorf("Value = %q, want %q", e.Value, tt.wantValue)
			}
			if len(e.Attrs) != len(tt.wantAttrs) || !maps.Equal(e.Attrs, tt.wantAttrs) {
				t.Errorf("Attrs = %v, want %v", e.Attrs, tt.wantAttrs)
			}
		})
	}
}

func TestEntityValidateErrors(t *testing.T) {
	tests := []struct {
		name      string
		in        Entity
		wantField string
	}{
		{"empty", Entity{Kind: EntityHost}, "value"},
		{"blank", Entity{Kind: EntityAccount, Value: " \t "}, "value"},
		{"host of dots", Entity{Kind: EntityHost, Value: " . "}, "value"},
		{"domain of dots", Entity{Kind: EntityDomain, Value: ".."}, "value"},
		{"not an ip", Entity{Kind: EntityIP, Value: "10.0.0"}, "value"},
		{"host name as ip", Entity{Kind: EntityIP, Value: "localhost"}, "value"},
		// Leading zeros are ambiguous (octal or decimal?) and refused.
		{"ipv4 leading zero", Entity{Kind: EntityIP, Value: "010.0.0.1"}, "value"},
		{"cidr is not an address", Entity{Kind: EntityIP, Value: "10.0.0.0/8"}, "value"},
		{"relative url", Entity{Kind: EntityURL, Value: "example.com/path"}, "value"},
		{"unparsable url", Entity{Kind: EntityURL, Value: "http://[::1"}, "value"},
		{"non-hex hash", Entity{Kind: EntityFileHash, Value: "xyz"}, "value"},
		{"hash with prefix", Entity{Kind: EntityFileHash, Value: "0x" + strings.Repeat("a", 32)}, "value"},
		{"unknown kind", Entity{Kind: "mailbox", Value: "a@example.com"}, "kind"},
		{"empty kind", Entity{Value: "x"}, "kind"},
		// Kinds are exact: "IP" is not "ip".
		{"upper-case kind", Entity{Kind: "IP", Value: "10.0.0.1"}, "kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.in
			err := e.Validate()
			var fe *validation.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate(%+v) = %v (%T), want *validation.FieldError", tt.in, err, err)
			}
			if fe.Field != tt.wantField {
				t.Errorf("Field = %q, want %q (error %q)", fe.Field, tt.wantField, err)
			}
		})
	}
}

// TestEntityKindErrorListsKinds checks that the error for a bad kind tells
// the sender which kinds exist.
func TestEntityKindErrorListsKinds(t *testing.T) {
	e := Entity{Kind: "mailbox", Value: "x"}
	err := e.Validate()
	if err == nil {
		t.Fatal("Validate of unknown kind = nil, want error")
	}
	for _, k := range EntityKinds {
		if !strings.Contains(err.Error(), string(k)) {
			t.Errorf("error %q does not name kind %q", err, k)
		}
	}
}

func TestNormalizeNormalizesEntities(t *testing.T) {
	a := valid()
	a.Entities = []Entity{{Kind: EntityIP, Value: "2001:DB8::0001"}, {Kind: EntityHost, Value: "HOST."}}
	if err := a.Normalize(now); err != nil {
		t.Fatalf("Normalize: %v", err)
	}
	// Normalize must normalize the entities in place, not copies of them.
	if got, want := a.Entities[0].Value, "2001:db8::1"; got != want {
		t.Errorf("Entities[0].Value = %q, want %q", got, want)
	}
	if got, want := a.Entities[1].Value, "host"; got != want {
		t.Errorf("Entities[1].Value = %q, want %q", got, want)
	}
}

func TestSeverityRankValid(t *testing.T) {
	tests := []struct {
		sev       Severity
		wantRank  int
		wantValid bool
	}{
		{SeverityInformational, 0, true},
		{SeverityLow, 1, true},
		{SeverityMedium, 2, true},
		{SeverityHigh, 3, true},
		{SeverityCritical, 4, true},
		{"", -1, false},
		{"urgent", -1, false},
		// Rank and Valid are exact; Normalize is what lower-cases.
		{"High", -1, false},
	}
	for _, tt := range tests {
		if got := tt.sev.Rank(); got != tt.wantRank {
			t.Errorf("Severity(%q).Rank() = %d, want %d", tt.sev, got, tt.wantRank)
		}
		if got := tt.sev.Valid(); got != tt.wantValid {
			t.Errorf("Severity(%q).Valid() = %v, want %v", tt.sev, got, tt.wantValid)
		}
	}
	// Severities is documented lowest first; sorting by Rank depends on it.
	for i := 1; i < len(Severities); i++ {
		if Severities[i-1].Rank() >= Severities[i].Rank() {
			t.Errorf("Severities not in ascending rank at %d: %v", i, Severities)
		}
	}
}

func TestStatusValidOpen(t *testing.T) {
	tests := []struct {
		st        Status
		wantValid bool
		wantOpen  bool
	}{
		{StatusNew, true, true},
		{StatusInProgress, true, true},
		{StatusResolved, true, false},
		{StatusDismissed, true, false},
		{"", false, false},
		{"closed", false, false},
	}
	for _, tt := range tests {
		if got := tt.st.Valid(); got != tt.wantValid {
			t.Errorf("Status(%q).Valid() = %v, want %v", tt.st, got, tt.wantValid)
		}
		if got := tt.st.Open(); got != tt.wantOpen {
			t.Errorf("Status(%q).Open() = %v, want %v", tt.st, got, tt.wantOpen)
		}
	}
}

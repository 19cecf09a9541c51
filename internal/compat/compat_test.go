package compat

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/validation"
)

// now is the fixed "current time" of every test, after all fixture times.
var now = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// diffAlert lists the mapped fields of got that differ from want. Raw is
// left to the tests that care about it.
func diffAlert(got, want alert.Alert) []string {
	var d []string
	str := func(name, g, w string) {
		if g != w {
			d = append(d, fmt.Sprintf("%s = %q, want %q", name, g, w))
		}
	}
	str("Source", got.Source, want.Source)
	str("SourceID", got.SourceID, want.SourceID)
	str("Product", got.Product, want.Product)
	str("Title", got.Title, want.Title)
	str("Description", got.Description, want.Description)
	str("Severity", string(got.Severity), string(want.Severity))
	str("Status", string(got.Status), string(want.Status))
	if !got.FirstSeen.Equal(want.FirstSeen) {
		d = append(d, fmt.Sprintf("FirstSeen = %v, want %v", got.FirstSeen, want.FirstSeen))
	}
	if !got.LastSeen.Equal(want.LastSeen) {
		d = append(d, fmt.Sprintf("LastSeen = %v, want %v", got.LastSeen, want.LastSeen))
	}
	if len(got.Entities) != len(want.Entities) || (len(want.Entities) > 0 && !reflect.DeepEqual(got.Entities, want.Entities)) {
		d = append(d, fmt.Sprintf("Entities = %+v, want %+v", got.Entities, want.Entities))
	}
	return d
}

// checkFieldError reports unless err is a *validation.FieldError with the
// given field and a message containing msg.
func checkFieldError(t *testing.T, err error, field, msg string) {
	t.Helper()
	var fe *validation.FieldError
	if !errors.As(err, &fe) {
		t.Errorf("error = %v (%T), want *validation.FieldError %s: ...%s...", err, err, field, msg)
		return
	}
	if fe.Field != field || !strings.Contains(fe.Message, msg) {
		t.Errorf("error = %q: %q, want field %q with message containing %q", fe.Field, fe.Message, field, msg)
	}
}

func host(v string) alert.Entity { return alert.Entity{Kind: alert.EntityHost, Value: v} }
func ip(v string) alert.Entity   { return alert.Entity{Kind: alert.EntityIP, Value: v} }

func TestLocationEntities(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []alert.Entity
	}{
		{"", nil},
		{"web-1", []alert.Entity{host("web-1")}},
		{"Web-1.Example.COM.", []alert.Entity{host("web-1.example.com")}},
		{"web-1.example.com:9100", []alert.Entity{host("web-1.example.com")}},
		{"10.0.0.5", []alert.Entity{ip("10.0.0.5")}},
		{"10.0.0.5:9100", []alert.Entity{ip("10.0.0.5")}},
		{"2001:db8::1", []alert.Entity{ip("2001:db8::1")}},
		{"[2001:db8::1]:9100", []alert.Entity{ip("2001:db8::1")}},
		{"fe80::1%eth0", []alert.Entity{ip("fe80::1")}},
		{"https://user:secret@shop.example.com/health?x=1", []alert.Entity{
			{Kind: alert.EntityURL, Value: "https://shop.example.com/health?x=1"},
			host("shop.example.com"),
		}},
		{"http://192.0.2.7:8080/", []alert.Entity{{Kind: alert.EntityURL, Value: "http://192.0.2.7:8080/"}, ip("192.0.2.7")}},
		// Shared by every self-scraping Prometheus, so not an entity.
		{"localhost:9090", nil},
		{"127.0.0.1:9090", nil},
		{"[::1]:9090", nil},
		{"0.0.0.0", nil},
		// PagerDuty's own example source: not a location.
		{"monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/api-stats-prod-003", nil},
		{"my server", nil},
		{"a..b", nil},
	} {
		got := locationEntities(tt.in)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("locationEntities(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"abcdefghijkl", 10, "abcdefg…"},
		// The cut must not split the two-byte "é".
		{"abcdeféghij", 10, "abcdef…"},
	} {
		got := truncate(tt.in, tt.max)
		if got != tt.want || len(got) > tt.max {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

func TestParseLenientTime(t *testing.T) {
	want := time.Date(2015, 7, 17, 8, 42, 58, 315e6, time.UTC)
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"2015-07-17T08:42:58.315+0000", true}, // PagerDuty's examples
		{"2015-07-17T08:42:58.315Z", true},
		{"2015-07-17T10:42:58.315+02:00", true},
		{"2015-07-17T10:42:58.315+0200", true},
		{"2015-07-17T08:42:58.315", true}, // no zone: UTC
		{"2015-07-17T08:42:58.3150000Z", true},
		{"2015-07-17 08:42:58", false},
		{"17/07/2015", false},
		{"", false},
	} {
		got, err := parseLenientTime(tt.in)
		switch {
		case tt.ok && err != nil:
			t.Errorf("parseLenientTime(%q) error %v", tt.in, err)
		case tt.ok && !got.Equal(want):
			t.Errorf("parseLenientTime(%q) = %v, want %v", tt.in, got, want)
		case !tt.ok && err == nil:
			t.Errorf("parseLenientTime(%q) = %v, want error", tt.in, got)
		}
	}
}

func TestJSONSyntaxMessage(t *testing.T) {
	for _, tt := range []struct{ body, want string }{
		{"", "is empty"},
		{"  \n", "is empty"},
		{`[{"labels": {"a": "b"},}]`, "line 1, column 24"},
		{"[\n  {\n    \"labels\": {\n      \"a\": \"b\"\n    }},\n  }\n]", "line 6, column 3"},
		{`[{"labels"`, "unexpected end of JSON input"},
	} {
		_, err := ParseAlertmanager([]byte(tt.body), now)
		checkFieldError(t, err, "body", tt.want)
	}
}

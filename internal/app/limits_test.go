package app

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/notify"
)

func TestRateLimits(t *testing.T) {
	got, err := rateLimits(map[string]string{"sms": "1/30s, 5/10m", "voice": "off"})
	if err != nil {
		t.Fatal(err)
	}
	want := []notify.Limit{{N: 1, Per: 30 * time.Second}, {N: 5, Per: 10 * time.Minute}}
	if s := got["sms"].PerMethod; len(s) != 2 || s[0] != want[0] || s[1] != want[1] {
		t.Errorf("sms limits = %+v, want %+v", s, want)
	}
	if v, ok := got["voice"]; !ok || len(v.PerMethod) != 0 {
		t.Errorf("voice off = %+v (present %v), want no limits", v, ok)
	}
	for _, tc := range []struct{ typ, spec, want string }{
		{"pigeon", "1/1m", "paging.rate_limits.pigeon"},
		{"sms", "one a minute", "paging.rate_limits.sms"},
		{"sms", "0/1m", "paging.rate_limits.sms"},
		{"sms", "1/-1m", "paging.rate_limits.sms"},
	} {
		if _, err := rateLimits(map[string]string{tc.typ: tc.spec}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: %v, want an error naming %s", tc.typ, tc.spec, err, tc.want)
		}
	}
}

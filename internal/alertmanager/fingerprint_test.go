package alertmanager

import "testing"

func TestFingerprint(t *testing.T) {
	tests := []struct {
		labels map[string]string
		want   string
	}{
		// prometheus/common model/signature_test.go (TestMetricToFingerprint):
		// 14695981039346656037 and 5799056148416392346 in hex.
		{map[string]string{}, "cbf29ce484222325"},
		{nil, "cbf29ce484222325"},
		{map[string]string{"name": "garland, briggs", "fear": "love is not enough"}, "507a62d79ee76c9a"},
	}
	for _, tt := range tests {
		if got := Fingerprint(tt.labels); got != tt.want {
			t.Errorf("Fingerprint(%v) = %s, want %s", tt.labels, got, tt.want)
		}
	}
	// The separator keeps {a:"bc"} and {ab:"c"} apart.
	if Fingerprint(map[string]string{"a": "bc"}) == Fingerprint(map[string]string{"ab": "c"}) {
		t.Error("fingerprints collide across the name/value boundary")
	}
}

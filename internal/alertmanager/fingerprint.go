package alertmanager

import "github.com/vigil-soc/vigil/internal/compat"

// Fingerprint is Alertmanager's alert fingerprint: prometheus/common's
// LabelSet.Fingerprint (64-bit FNV-1a over the sorted names and values,
// each followed by 0xff) as 16 hex digits. It delegates to compat so that
// alerts posted to /api/v2/alerts and alerts received by webhook dedup to
// the same key.
func Fingerprint(labels map[string]string) string {
	return compat.AlertmanagerFingerprint(labels)
}

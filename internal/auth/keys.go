package auth

import (
	"crypto/rand"
	"encoding/base64"
	"strings"

	"github.com/vigil-soc/vigil/internal/validation"
)

// Integration keys are what senders hold: Alertmanager's bearer token,
// PagerDuty's routing_key, the token= of an Azure Monitor webhook URL.
// Unlike API tokens they may only ingest, and only for their own sender,
// so that a key copied out of a sender's configuration (or read by
// anybody who can read that configuration) cannot change anything.

// keyPrefix makes integration keys recognizable to secret scanners, and
// tells them from API tokens (tokenPrefix) without a lookup.
const keyPrefix = "vgi_"

// Key sources: the senders an integration key can be made for.
const (
	SourceAlertmanager = "alertmanager"  // POST /api/v2/alerts (Bearer) and /api/v1/webhooks/alertmanager (Bearer or ?key=)
	SourcePagerDuty    = "pagerduty"     // POST /v2/enqueue, routing_key
	SourceAzureMonitor = "azure-monitor" // POST /api/v1/webhooks/azure-monitor, ?token= or Bearer
	SourceAPI          = "api"           // POST /api/v1/alerts and /api/v1/incidents, Bearer
)

// KeySources lists the sources in the order the admin pages offer them.
var KeySources = []string{SourceAlertmanager, SourcePagerDuty, SourceAzureMonitor, SourceAPI}

// ParseKeySource validates an integration key's source.
func ParseKeySource(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, k := range KeySources {
		if s == k {
			return s, nil
		}
	}
	return "", validation.NewFieldError("source", "unknown source %q (want %s)", s, strings.Join(KeySources, ", "))
}

// NewIntegrationKey returns a new random integration key.
func NewIntegrationKey() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return keyPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// IsIntegrationKey reports whether secret has the shape of an
// integration key rather than an API token.
func IsIntegrationKey(secret string) bool { return strings.HasPrefix(secret, keyPrefix) }

// KeyHint is the part of a key that may be shown and stored in the clear
// to tell keys apart: the prefix and four characters, out of 43 random.
func KeyHint(secret string) string {
	if len(secret) < len(keyPrefix)+4 {
		return keyPrefix
	}
	return secret[:len(keyPrefix)+4]
}

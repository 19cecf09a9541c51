package account

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestVerifyDevice(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	otherKey := bytes.Repeat([]byte{8}, 32)
	nonce := bytes.Repeat([]byte{0xab}, deviceNonceLen)
	issued := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	good := signDevice(key, "ann@example.com", issued, nonce)
	// flip changes one byte of the decoded cookie at i.
	flip := func(i int) string {
		b, _ := base64.RawURLEncoding.DecodeString(good)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	tests := []struct {
		name   string
		key    []byte
		email  string
		cookie string
		now    time.Time
		wantOK bool
	}{
		{"valid", key, "ann@example.com", good, issued.Add(time.Hour), true},
		{"valid on its last day", key, "ann@example.com", good, issued.Add(DeviceLifetime), true},
		{"valid from a clock a little behind", key, "ann@example.com", good, issued.Add(-time.Minute), true},
		{"other email", key, "bob@example.com", good, issued.Add(time.Hour), false},
		{"email with a suffix", key, "ann@example.com.evil", good, issued.Add(time.Hour), false},
		{"expired", key, "ann@example.com", good, issued.Add(DeviceLifetime + time.Second), false},
		{"issued in the future", key, "ann@example.com", good, issued.Add(-time.Hour), false},
		{"wrong key", otherKey, "ann@example.com", good, issued.Add(time.Hour), false},
		{"tampered version", key, "ann@example.com", flip(0), issued.Add(time.Hour), false},
		{"tampered issued time", key, "ann@example.com", flip(8), issued.Add(time.Hour), false},
		{"tampered nonce", key, "ann@example.com", flip(12), issued.Add(time.Hour), false},
		{"tampered mac", key, "ann@example.com", flip(deviceLen - 1), issued.Add(time.Hour), false},
		{"truncated", key, "ann@example.com", good[:len(good)-2], issued.Add(time.Hour), false},
		{"padded", key, "ann@example.com", good + "A", issued.Add(time.Hour), false},
		{"not base64", key, "ann@example.com", strings.Repeat("*", len(good)), issued.Add(time.Hour), false},
		{"empty", key, "ann@example.com", "", issued.Add(time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, ok := verifyDevice(tt.key, tt.email, tt.cookie, tt.now)
			if ok != tt.wantOK {
				t.Fatalf("verifyDevice = %v, want %v", ok, tt.wantOK)
			}
			if ok && id != strings.Repeat("ab", deviceNonceLen) {
				t.Errorf("device id = %q, want the nonce in hex", id)
			}
			if !ok && id != "" {
				t.Errorf("refused cookie has device id %q, want none", id)
			}
		})
	}
}

// Two sign-ins of one browser get cookies that are different devices;
// the cookie names neither the email nor the key.
func TestSignDeviceFresh(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	a := signDevice(key, "ann@example.com", now, randomNonce())
	b := signDevice(key, "ann@example.com", now, randomNonce())
	ida, _ := verifyDevice(key, "ann@example.com", a, now)
	idb, _ := verifyDevice(key, "ann@example.com", b, now)
	if a == b || ida == idb {
		t.Errorf("two cookies %q and %q (devices %s, %s): want different ones", a, b, ida, idb)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(a)
	if bytes.Contains(raw, []byte("ann")) || bytes.Contains(raw, key[:8]) {
		t.Errorf("cookie %q holds the email or the key", a)
	}
}

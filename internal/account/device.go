package account

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-soc/vigil/internal/store"
)

// Device cookies, after OWASP's "Slow Down Online Guessing Attacks with
// Device Cookies": a browser that has signed in with a password gets a
// long-lived cookie, signed by the server and bound to the email that
// signed in. When it comes back, its sign-ins for that email take the
// trusted lane: a hash slot of their own, so that a flood from anywhere
// does not keep them out; no per-address limit, so that a shared proxy or
// office address does not either; and a lockout per device instead of
// per email, so that an attacker cannot lock the user out by failing on
// purpose. Everyone else takes the untrusted lane, as before.
//
// The cookie holds no email and nothing secret: a version byte, when it
// was issued, a random nonce, and an HMAC-SHA256 with the server's key
// over those and the lower-cased email. It cannot be revoked one by one;
// it expires after DeviceLifetime, and a success issues a new one.

// DeviceLifetime is how long a device cookie is trusted after the
// sign-in that issued it. Each sign-in issues a fresh one, so a browser
// in regular use stays trusted.
const DeviceLifetime = 90 * 24 * time.Hour

// deviceKeyName names the HMAC key in the store's shared secrets.
const deviceKeyName = "device_cookie_hmac_v1"

const (
	deviceVersion  = 1
	deviceNonceLen = 16
	deviceMACLen   = sha256.Size
	deviceBodyLen  = 1 + 8 + deviceNonceLen // version, issued (Unix seconds), nonce
	deviceLen      = deviceBodyLen + deviceMACLen
	// deviceSkew tolerates clocks of instances sharing a database that
	// disagree a little about "now".
	deviceSkew = 5 * time.Minute
)

// signDevice returns a device cookie for email, issued at issued, with
// nonce, signed with key.
func signDevice(key []byte, email string, issued time.Time, nonce []byte) string {
	b := make([]byte, 0, deviceLen)
	b = append(b, deviceVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(issued.Unix()))
	b = append(b, nonce...)
	b = append(b, deviceMAC(key, email, b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func deviceMAC(key []byte, email string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	// The email's length first, so that no email and body can be read as
	// another email and body.
	m.Write([]byte("vigil device cookie\x00"))
	m.Write(binary.BigEndian.AppendUint32(nil, uint32(len(email))))
	m.Write([]byte(email))
	m.Write(body)
	return m.Sum(nil)
}

// verifyDevice checks cookie against email (lower-cased) and key at now.
// It returns the device's id, the nonce in hex, which keys its lockout.
func verifyDevice(key []byte, email, cookie string, now time.Time) (string, bool) {
	if len(cookie) != base64.RawURLEncoding.EncodedLen(deviceLen) {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(cookie)
	if err != nil || len(b) != deviceLen || b[0] != deviceVersion {
		return "", false
	}
	body, mac := b[:deviceBodyLen], b[deviceBodyLen:]
	if !hmac.Equal(mac, deviceMAC(key, email, body)) {
		return "", false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(body[1:9])), 0)
	if now.Sub(issued) > DeviceLifetime || issued.Sub(now) > deviceSkew {
		return "", false
	}
	return hex.EncodeToString(body[9:]), true
}

// deviceKey returns the key that signs device cookies, made and stored
// at first use and shared by every instance on the database. A failure
// is not kept: the next sign-in tries again.
func (s *Service) deviceKey(ctx context.Context) ([]byte, error) {
	s.devMu.Lock()
	defer s.devMu.Unlock()
	if s.devKey != nil {
		return s.devKey, nil
	}
	fresh := make([]byte, 32)
	rand.Read(fresh)
	k, err := s.st.SharedSecret(ctx, deviceKeyName, fresh)
	if err != nil {
		return nil, fmt.Errorf("device cookie key: %w", err)
	}
	if len(k) < 32 {
		return nil, fmt.Errorf("device cookie key: stored key has %d bytes, want 32", len(k))
	}
	s.devKey = k
	return k, nil
}

// IssueDevice returns a new device cookie for email, to be given to the
// browser that has just signed in as email with its password.
func (s *Service) IssueDevice(ctx context.Context, email string) (string, error) {
	key, err := s.deviceKey(ctx)
	if err != nil {
		return "", err
	}
	return signDevice(key, normEmail(email), s.clock.Now(), randomNonce()), nil
}

func randomNonce() []byte {
	n := make([]byte, deviceNonceLen)
	rand.Read(n)
	return n
}

// trustedDevice reports whether cookie is a valid device cookie for
// email (normalized), and returns the device's id. A cookie that is
// absent, forged, expired or for another email takes the untrusted lane;
// it is not logged, or a flood of bad cookies would flood the log.
func (s *Service) trustedDevice(ctx context.Context, email, cookie string) (string, bool) {
	if cookie == "" {
		return "", false
	}
	key, err := s.deviceKey(ctx)
	if err != nil {
		s.log.Warn("sign-in: device cookie not checked", "err", err)
		return "", false
	}
	return verifyDevice(key, email, cookie, s.clock.Now())
}

// Defaults of the trusted lane's hash gate. Its slots come on top of the
// untrusted gate's: the cost of both together stays bounded, at 19 MiB
// per slot.
const (
	defaultDeviceSlots = 2
	defaultDeviceQueue = 16
	defaultDeviceWait  = 5 * time.Second
)

func trustedGate(o Options) *gate {
	slots, queue := o.DeviceSlots, o.DeviceQueue
	if slots <= 0 {
		slots = defaultDeviceSlots
	}
	if queue == 0 {
		queue = defaultDeviceQueue
	}
	return newGate(slots, queue, defaultDeviceWait)
}

func deviceLimitOf(o Options) limit {
	l := deviceLimit
	if o.DeviceFailures > 0 {
		l.failures = o.DeviceFailures
	}
	return l
}

// signInTrusted is SignIn for a browser whose device cookie dev is valid
// for email: no per-address or per-email limit, a lockout of the device
// instead, and the trusted lane's hash gate. Its failures do not count
// against the email, and its success does not clear the email's
// failures: those belong to the untrusted lane, where a guesser is.
func (s *Service) signInTrusted(ctx context.Context, email, password, dev string, m Meta) (string, store.Session, error) {
	now := s.clock.Now()
	if v := s.byDevice.begin(dev, now); !v.ok {
		s.refused(v, "too many failed attempts from this device", email, m.IP)
		return "", store.Session{}, &RetryError{Err: ErrThrottled, After: v.retryAfter}
	}
	var u store.User
	var reason string
	err := s.trusted.do(ctx, func() error {
		var err error
		u, reason, err = s.verify(ctx, email, password)
		return err
	})
	if err != nil {
		s.byDevice.cancel(dev)
		if errors.Is(err, ErrBusy) {
			if n := s.trusted.refusals(s.clock.Now(), busyLogEvery); n > 0 {
				s.log.Warn("trusted-device sign-ins refused: password checks busy", "refused_since_last_line", n)
			}
		}
		return "", store.Session{}, err
	}
	if reason != "" {
		locked := s.byDevice.fail(dev, s.clock.Now())
		s.log.Warn("sign-in failed", "email", email, "reason", reason, "ip", m.IP, "trusted_device", true, "device_locked", locked)
		return "", store.Session{}, ErrBadCredentials
	}
	s.byDevice.succeed(dev)
	return s.start(ctx, u, m, "password")
}

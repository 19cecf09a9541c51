package auth

import (
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/argon2"
)

const goodPassword = "correct horse battery"

// hashOnce hashes goodPassword once per test binary: argon2id is
// deliberately slow.
var hashOnce = sync.OnceValues(func() (string, error) { return HashPassword(goodPassword) })

func goodHash(t *testing.T) string {
	t.Helper()
	h, err := hashOnce()
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	return h
}

func TestHashPasswordFormat(t *testing.T) {
	h := goodHash(t)
	// PHC string format with the parameters in force, so that they can
	// be raised later without breaking stored hashes.
	prefix := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$", argonMemory, argonTime, argonThreads)
	if !strings.HasPrefix(h, prefix) {
		t.Fatalf("HashPassword = %q, want prefix %q", h, prefix)
	}
	parts := strings.Split(h, "$")
	if len(parts) != 6 {
		t.Fatalf("HashPassword = %q has %d $-parts, want 6", h, len(parts))
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) != 16 {
		t.Errorf("salt %q: %d bytes, %v; want 16 bytes of unpadded base64", parts[4], len(salt), err)
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) != argonKeyLen {
		t.Errorf("key %q: %d bytes, %v; want %d bytes of unpadded base64", parts[5], len(key), err, argonKeyLen)
	}
	if strings.Contains(h, goodPassword) {
		t.Errorf("hash %q contains the password", h)
	}
}

func TestPasswordRoundTrip(t *testing.T) {
	h := goodHash(t)
	tests := []struct {
		name     string
		password string
		want     bool
	}{
		{"right password", goodPassword, true},
		{"wrong password", "correct horse battery!", false},
		{"case differs", "Correct horse battery", false},
		{"prefix", "correct horse", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CheckPassword(h, tt.password); got != tt.want {
				t.Errorf("CheckPassword(hash, %q) = %v, want %v", tt.password, got, tt.want)
			}
		})
	}
}

func TestHashPasswordSalted(t *testing.T) {
	// The same password hashes differently each time (random salt), so
	// equal passwords cannot be spotted in the users table.
	a := goodHash(t)
	b, err := HashPassword(goodPassword)
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	if a == b {
		t.Errorf("two hashes of one password are equal: %s", a)
	}
	if !CheckPassword(b, goodPassword) {
		t.Error("second hash does not verify")
	}
}

func TestHashPasswordTooShort(t *testing.T) {
	for _, pw := range []string{"", "short", strings.Repeat("x", MinPasswordLength-1)} {
		h, err := HashPassword(pw)
		if err == nil {
			t.Errorf("HashPassword(%d chars) = %q, nil; want an error", len(pw), h)
			continue
		}
		if h != "" {
			t.Errorf("HashPassword(%d chars) returned hash %q with its error", len(pw), h)
		}
		if !strings.Contains(err.Error(), fmt.Sprint(MinPasswordLength)) {
			t.Errorf("error %q does not say the minimum length", err)
		}
	}
}

// TestHashPasswordMinimumLength checks that exactly MinPasswordLength is
// enough. It is a separate hash because argon2id is slow.
func TestHashPasswordMinimumLength(t *testing.T) {
	pw := strings.Repeat("x", MinPasswordLength)
	h, err := HashPassword(pw)
	if err != nil {
		t.Fatalf("HashPassword(%d chars): %v", len(pw), err)
	}
	if !CheckPassword(h, pw) {
		t.Error("hash of a minimum-length password does not verify")
	}
}

// TestCheckPasswordMalformed feeds broken hash strings, as a damaged or
// hand-edited users row would hold. Each must be a clean "no": no panic,
// and never a match for an arbitrary password.
func TestCheckPasswordMalformed(t *testing.T) {
	h := goodHash(t)
	parts := strings.Split(h, "$")
	salt, key := parts[4], parts[5]
	with := func(params, salt, key string) string {
		return "$argon2id$v=19$" + params + "$" + salt + "$" + key
	}
	params := parts[3]
	tests := []struct {
		name    string
		encoded string
	}{
		{"empty", ""},
		{"plain text", goodPassword},
		{"too few parts", "$argon2id$v=19$" + params + "$" + salt},
		{"too many parts", h + "$extra"},
		{"argon2i", strings.Replace(h, "$argon2id$", "$argon2i$", 1)},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"params garbled", with("m=x,t=3,p=2", salt, key)},
		{"params missing", with("", salt, key)},
		{"parallelism overflows", with("m=65536,t=3,p=300", salt, key)},
		{"salt not base64", with(params, "!!!", key)},
		{"key not base64", with(params, salt, "!!!")},
		{"padded base64 key", with(params, salt, key+"=")},
		// argon2 panics on zero passes or zero lanes; a hash claiming them
		// must be rejected before it gets there.
		{"zero passes", with("m=65536,t=0,p=2", salt, key)},
		{"zero lanes", with("m=65536,t=3,p=0", salt, key)},
		// An empty key would compare equal to an empty derived key and
		// accept any password at all.
		{"empty key", with(params, salt, "")},
		{"wrong key", with(params, salt, base64.RawStdEncoding.EncodeToString(make([]byte, argonKeyLen)))},
		// Same key, different parameters: a different derivation.
		{"different passes", with(fmt.Sprintf("m=%d,t=%d,p=%d", argonMemory, argonTime+1, argonThreads), salt, key)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("CheckPassword(%q) panicked: %v", tt.encoded, r)
				}
			}()
			for _, pw := range []string{goodPassword, "", "anything at all"} {
				if CheckPassword(tt.encoded, pw) {
					t.Errorf("CheckPassword(%q, %q) = true, want false", tt.encoded, pw)
				}
			}
		})
	}
}

// TestHashParameters pins the parameters of new hashes to OWASP's
// recommended minimum for argon2id: 19 MiB, 2 passes, 1 lane. The earlier
// 64 MiB per hash let a flood of sign-ins take gigabytes.
func TestHashParameters(t *testing.T) {
	const want = "$argon2id$v=19$m=19456,t=2,p=1$"
	if h := goodHash(t); !strings.HasPrefix(h, want) {
		t.Errorf("HashPassword = %q, want prefix %q", h, want)
	}
}

// legacyHash encodes password as vigil hashed it before the parameters
// were lowered: 64 MiB, 3 passes, 2 lanes.
func legacyHash(password string) string {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(password), salt, 3, 64*1024, 2, 32)
	return fmt.Sprintf("$argon2id$v=19$m=65536,t=3,p=2$%s$%s",
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func TestNeedsRehash(t *testing.T) {
	cur := goodHash(t)
	parts := strings.Split(cur, "$")
	with := func(params string) string {
		return "$argon2id$v=19$" + params + "$" + parts[4] + "$" + parts[5]
	}
	tests := []struct {
		name    string
		encoded string
		want    bool
	}{
		{"current parameters", cur, false},
		{"legacy 64 MiB hash", legacyHash(goodPassword), true},
		{"more memory", with("m=65536,t=2,p=1"), true},
		{"less memory", with("m=9216,t=2,p=1"), true},
		{"more passes", with("m=19456,t=3,p=1"), true},
		{"more lanes", with("m=19456,t=2,p=2"), true},
		{"shorter key", with("m=19456,t=2,p=1")[:len(cur)-4], true},
		{"other version", strings.Replace(cur, "$v=19$", "$v=16$", 1), true},
		{"malformed", "not a hash", true},
		{"empty", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NeedsRehash(tt.encoded); got != tt.want {
				t.Errorf("NeedsRehash(%q) = %v, want %v", tt.encoded, got, tt.want)
			}
		})
	}
}

// Hashes made with the old parameters still verify: they carry their own.
func TestCheckPasswordLegacyHash(t *testing.T) {
	h := legacyHash(goodPassword)
	if !CheckPassword(h, goodPassword) {
		t.Errorf("CheckPassword(legacy hash, right password) = false, want true")
	}
	if CheckPassword(h, goodPassword+"!") {
		t.Errorf("CheckPassword(legacy hash, wrong password) = true, want false")
	}
}

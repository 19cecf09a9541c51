package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes, one
// lane). Every sign-in attempt, even one for an unknown email, costs one
// hash, so the memory of a hash times the hashes allowed at once is what a
// flood of sign-ins can take from the server; the earlier 64 MiB made that
// gigabytes. Hashes made with other parameters still verify (they carry
// their own) and are replaced at the next sign-in: see NeedsRehash.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
)

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 12

// HashPassword returns an encoded argon2id hash in the PHC string format.
func HashPassword(password string) (string, error) {
	if len(password) < MinPasswordLength {
		return "", fmt.Errorf("password must be at least %d characters", MinPasswordLength)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches the encoded hash. The
// parameters are read from the hash so that they can be raised later
// without invalidating stored hashes.
func CheckPassword(encoded, password string) bool {
	h, ok := parseHash(encoded)
	if !ok {
		return false
	}
	got := argon2.IDKey([]byte(password), h.salt, h.t, h.m, h.p, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

// NeedsRehash reports whether encoded was made with other parameters than
// HashPassword uses now, stronger or weaker: after a successful sign-in
// the password is hashed again, so that every stored hash ends up costing
// what the server has budgeted for. A hash that cannot be read needs one
// too (it verifies nothing anyway).
func NeedsRehash(encoded string) bool {
	h, ok := parseHash(encoded)
	return !ok || h.version != argon2.Version || h.m != argonMemory || h.t != argonTime ||
		h.p != argonThreads || len(h.key) != argonKeyLen
}

// phc is a parsed argon2id hash in the PHC string format.
type phc struct {
	version   int
	m, t      uint32
	p         uint8
	salt, key []byte
}

// parseHash reads an encoded argon2id hash and refuses one whose
// parameters argon2 cannot or must not run.
func parseHash(encoded string) (phc, bool) {
	var h phc
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return h, false
	}
	if _, err := fmt.Sscanf(parts[2], "v=%d", &h.version); err != nil {
		return h, false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.m, &h.t, &h.p); err != nil {
		return h, false
	}
	// argon2 panics on zero passes or lanes; and a tampered hash must not
	// make one sign-in allocate gigabytes or spin for minutes.
	if h.t < 1 || h.p < 1 || h.t > 16 || h.m > 1<<20 || h.m < 8*uint32(h.p) {
		return h, false
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return h, false
	}
	h.key, err = base64.RawStdEncoding.DecodeString(parts[5])
	// An empty key would make argon2 derive nothing to compare against.
	if err != nil || len(h.key) == 0 {
		return h, false
	}
	return h, true
}

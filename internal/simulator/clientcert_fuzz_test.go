package simulator

import (
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
)

// FuzzParseAssertion feeds the client-assertion parser arbitrary strings:
// it never panics, a parsed assertion keeps exactly the first two parts as
// the signed input, and verification with an unrelated key never succeeds.
func FuzzParseAssertion(f *testing.F) {
	f.Add("eyJhbGciOiJQUzI1NiIsInR5cCI6IkpXVCIsIng1dCNTMjU2IjoiYWJjIn0.eyJhdWQiOiJodHRwczovL3gvdC9vYXV0aDIvdjIuMC90b2tlbiIsImV4cCI6MTcwMDAwMDAwMCwiaXNzIjoiYyIsInN1YiI6ImMifQ.c2ln")
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOlsiYXBpOi8vQXp1cmVBRFRva2VuRXhjaGFuZ2UiXX0.")
	f.Add("a.b.c")
	f.Add("..")
	f.Add("")
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		a, err := parseAssertion(raw)
		if err != nil {
			return
		}
		parts := strings.Split(raw, ".")
		if string(a.signed) != parts[0]+"."+parts[1] {
			t.Fatalf("signed = %q", a.signed)
		}
		_ = a.audiences()
		if a.verify(&key.PublicKey) == nil {
			t.Fatalf("%q verified with an unrelated key", raw)
		}
	})
}

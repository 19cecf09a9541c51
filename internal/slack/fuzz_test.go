package slack

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// FuzzParseInteraction: any body either parses into an action that names
// its user and button, or fails with a field error; it never panics.
func FuzzParseInteraction(f *testing.F) {
	f.Add(fixtureBody(f))
	f.Add([]byte("payload=%7B%22type%22%3A%22block_actions%22%7D"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := ParseInteraction(body)
		if err != nil {
			return
		}
		if a.UserID == "" || a.ActionID == "" || a.Type != InteractionBlockActions {
			t.Fatalf("accepted an action without user or action id: %+v", a)
		}
	})
}

// FuzzVerifyRequest: a request is accepted only with the right signature
// over exactly its body, within the window.
func FuzzVerifyRequest(f *testing.F) {
	v := loadVector(f)
	f.Add(v.Timestamp, v.Signature, []byte(v.Body))
	f.Add(v.Timestamp, "v0=", []byte(""))
	f.Add("-1", "v0=00", []byte("payload="))
	const now = 1531420618
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header.Set(HeaderTimestamp, ts)
		r.Header.Set(HeaderSignature, sig)
		got, err := VerifyRequest(r, v.Secret, time.Unix(now, 0), 5*time.Minute)
		if err != nil {
			return
		}
		sec, perr := strconv.ParseInt(ts, 10, 64)
		if perr != nil || sec < now-300 || sec > now+300 {
			t.Fatalf("accepted timestamp %q", ts)
		}
		if !bytes.Equal(got, body) || !Valid(v.Secret, ts, body, sig) {
			t.Fatalf("accepted a request it cannot have verified")
		}
	})
}

// Package redact strips credentials from payloads before they are stored.
//
// Senders put secrets in places vigil keeps: PagerDuty's routing_key sits
// in the event body, a webhook URL can carry ?token= or a SAS signature,
// and a careless alert annotation can hold an API key. vigil keeps every
// raw payload for investigators to read, and viewers may read them, so a
// credential in one is a credential handed to every viewer. JSON rewrites
// a payload so that none survives: the values of credential-named fields,
// credential query parameters in URLs, and anything shaped like a vigil
// token or integration key.
package redact

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"regexp"
	"strings"
)

// Mask replaces every redacted value.
const Mask = "[redacted]"

// sensitive are field and query-parameter names, lower-cased with '_',
// '-', '.' and spaces removed, whose values are credentials. Names are
// matched whole: "token" is a credential, "tokenIssuerType" is not.
var sensitive = map[string]bool{
	"routingkey": true, "integrationkey": true, "servicekey": true,
	"apikey": true, "xapikey": true, "apitoken": true, "authtoken": true,
	"token": true, "accesstoken": true, "refreshtoken": true, "idtoken": true, "bearertoken": true,
	"secret": true, "clientsecret": true, "sharedsecret": true, "webhooksecret": true,
	"password": true, "passwd": true, "pwd": true,
	"authorization": true, "proxyauthorization": true, "cookie": true, "setcookie": true,
	"accountkey": true, "sharedaccesskey": true, "privatekey": true,
	"sig": true, "sastoken": true,
}

// IsSensitive reports whether a field or parameter named name holds a
// credential.
func IsSensitive(name string) bool { return sensitive[normalize(name)] }

func normalize(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		switch r {
		case '_', '-', '.', ' ':
			continue
		}
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// vigilSecret matches vigil's own API tokens (vgl_) and integration keys
// (vgi_) wherever they appear in a string.
var vigilSecret = regexp.MustCompile(`\bvg[li]_[A-Za-z0-9_-]{20,}`)

// hints are the substrings a payload must contain, in some case, for
// JSON to parse it at all: most payloads contain none, and are returned
// untouched without the cost of a parse.
var hints = [][]byte{
	[]byte("key"), []byte("token"), []byte("secret"), []byte("passw"), []byte("pwd"),
	[]byte("authoriz"), []byte("cookie"), []byte("sig"), []byte("vgl_"), []byte("vgi_"),
}

func mayHold(b []byte) bool {
	// A lower-cased copy costs one allocation; the parse it avoids costs many.
	low := bytes.ToLower(b)
	for _, h := range hints {
		if bytes.Contains(low, h) {
			return true
		}
	}
	return false
}

// JSON returns payload with every credential masked, and whether it
// changed anything. A payload with nothing to mask is returned as is,
// byte for byte; a masked one keeps its fields' order but not its
// whitespace. A payload that is not valid JSON is returned unchanged with
// changed false: callers store only payloads they have parsed.
func JSON(payload []byte) (out []byte, changed bool) {
	if len(payload) == 0 || !mayHold(payload) {
		return payload, false
	}
	var buf bytes.Buffer
	buf.Grow(len(payload))
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	w := &rewriter{dec: dec, out: &buf}
	if err := w.value(false); err != nil {
		return payload, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return payload, false // trailing data: leave it to the caller's parser
	}
	if !w.changed {
		return payload, false
	}
	return buf.Bytes(), true
}

type rewriter struct {
	dec     *json.Decoder
	out     *bytes.Buffer
	changed bool
}

// value copies the next JSON value; mask replaces it with Mask.
func (w *rewriter) value(mask bool) error {
	if mask {
		var skip json.RawMessage
		if err := w.dec.Decode(&skip); err != nil {
			return err
		}
		switch string(skip) {
		case "null", `""`, `"` + Mask + `"`: // nothing to mask, or masked already
			w.out.Write(skip)
		default:
			w.changed = true
			w.out.WriteString(`"` + Mask + `"`)
		}
		return nil
	}
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			return w.object()
		case '[':
			return w.array()
		}
		return errors.New("unexpected delimiter")
	case string:
		return w.str(t)
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return err
		}
		w.out.Write(b)
	}
	return nil
}

func (w *rewriter) object() error {
	w.out.WriteByte('{')
	for first := true; w.dec.More(); first = false {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return errors.New("object key is not a string")
		}
		if !first {
			w.out.WriteByte(',')
		}
		writeString(w.out, key)
		w.out.WriteByte(':')
		if err := w.value(IsSensitive(key)); err != nil {
			return err
		}
	}
	if _, err := w.dec.Token(); err != nil { // '}'
		return err
	}
	w.out.WriteByte('}')
	return nil
}

func (w *rewriter) array() error {
	w.out.WriteByte('[')
	for first := true; w.dec.More(); first = false {
		if !first {
			w.out.WriteByte(',')
		}
		if err := w.value(false); err != nil {
			return err
		}
	}
	if _, err := w.dec.Token(); err != nil { // ']'
		return err
	}
	w.out.WriteByte(']')
	return nil
}

func (w *rewriter) str(s string) error {
	if clean, ok := String(s); ok {
		s = clean
		w.changed = true
	}
	writeString(w.out, s)
	return nil
}

func writeString(out *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	out.Write(b)
}

// String masks the credentials inside one string value: vigil tokens and
// keys anywhere in it, and credential query parameters of a URL. It
// reports whether it changed anything.
func String(s string) (string, bool) {
	changed := false
	if strings.Contains(s, "vgl_") || strings.Contains(s, "vgi_") {
		if r := vigilSecret.ReplaceAllStringFunc(s, func(m string) string { return m[:4] + Mask }); r != s {
			s, changed = r, true
		}
	}
	if strings.Contains(s, "://") && strings.Contains(s, "=") {
		if r, ok := URL(s); ok {
			s, changed = r, true
		}
	}
	return s, changed
}

// URL masks the values of credential query parameters (token=, sig=,
// api_key=…) and any user:password in a URL. It reports whether it
// changed anything; a string that does not parse as a URL is left alone.
func URL(raw string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme == "" {
		return raw, false
	}
	changed := false
	// A value already masked is no change: masking twice must be a no-op.
	if pw, has := u.User.Password(); has && pw != Mask {
		u.User = url.UserPassword(u.User.Username(), Mask)
		changed = true
	}
	if u.RawQuery != "" {
		q := u.Query()
		masked := false
		for name, vals := range q {
			if !IsSensitive(name) {
				continue
			}
			for i := range vals {
				if vals[i] != Mask {
					vals[i], masked = Mask, true
				}
			}
		}
		if masked {
			u.RawQuery = q.Encode()
			changed = true
		}
	}
	if !changed {
		return raw, false
	}
	return u.String(), true
}

package tiupload_test

import (
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/tiupload"
)

// FuzzUploadResponse feeds the client's answer decoding arbitrary bodies:
// it never panics, and Accepted stays between 0 and the number of objects
// sent, lowered only by errors that name an object of the request.
func FuzzUploadResponse(f *testing.F) {
	f.Add([]byte(``), 4)
	f.Add([]byte(`{"errors":[{"recordIndex":3,"errorMessages":["Error for Property=id: Required property is missing. Actual value: NULL."]}]}`), 4)
	f.Add([]byte(`{"errors":[{"recordIndex":-1},{"recordIndex":9},{"recordIndex":0},{"recordIndex":0}]}`), 2)
	f.Add([]byte(`{"statusCode":429,"message":"Rate limit is exceeded. Try again in 12 seconds."}`), 1)
	f.Add([]byte(`{"errors":null}`), 0)
	f.Fuzz(func(t *testing.T, body []byte, n int) {
		if n < 0 || n > tiupload.MaxObjects {
			return
		}
		res, err := tiupload.DecodeResult(body, n)
		if err != nil {
			return
		}
		if res.Accepted < 0 || res.Accepted > n {
			t.Fatalf("accepted %d of %d", res.Accepted, n)
		}
		named := map[int]bool{}
		for _, e := range res.Errors {
			if e.Index >= 0 && e.Index < n {
				named[e.Index] = true
			}
		}
		if res.Accepted != n-len(named) {
			t.Fatalf("accepted %d of %d with %d objects named", res.Accepted, n, len(named))
		}
	})
}

// FuzzSTIXPattern: whatever the value, its literal in a pattern ends
// where the value ends (an unescaped quote never closes it early) and
// reads back as the value.
func FuzzSTIXPattern(f *testing.F) {
	for _, s := range []string{"", "a", "'", `\`, `\'`, `'] OR [x:y = 'z`, "http://e.com/it's", `\\''\`, "ü'é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		lit := tiupload.QuoteLiteral(value)
		if len(lit) < 2 || lit[0] != '\'' || lit[len(lit)-1] != '\'' {
			t.Fatalf("literal %q is not quoted", lit)
		}
		// Read the literal as a STIX pattern parser does.
		var b strings.Builder
		i := 1
		for ; i < len(lit); i++ {
			c := lit[i]
			if c == '\\' {
				i++
				if i >= len(lit) || (lit[i] != '\\' && lit[i] != '\'') {
					t.Fatalf("literal %q: bad escape", lit)
				}
				b.WriteByte(lit[i])
				continue
			}
			if c == '\'' {
				break
			}
			b.WriteByte(c)
		}
		if i != len(lit)-1 {
			t.Fatalf("literal %q of %q closes at %d, not at its end", lit, value, i)
		}
		if b.String() != value {
			t.Fatalf("literal %q reads back as %q, not %q", lit, b.String(), value)
		}
	})
}

package loganalytics_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/loganalytics"
	"github.com/vigil-soc/vigil/internal/simulator"
)

// start serves a simulator over TLS.
func start(t *testing.T, opt simulator.Options) *simulator.Server {
	t.Helper()
	srv, err := simulator.Listen(simulator.New(opt), "127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// client returns a query client for the simulator; transport, when not
// nil, wraps the simulator's CA-trusting client.
func client(t *testing.T, srv *simulator.Server, wrap func(http.RoundTripper) http.RoundTripper) *loganalytics.Client {
	t.Helper()
	var rt http.RoundTripper = srv.Client().Transport
	if wrap != nil {
		rt = wrap(rt)
	}
	c, err := loganalytics.New(loganalytics.Config{
		TenantID: srv.Info.TenantID, ClientID: srv.Info.ClientID, ClientSecret: srv.Info.ClientSecret,
		AuthorityHost: srv.Info.Authority, BaseURL: srv.Info.LogAnalyticsURL, Transport: &http.Client{Transport: rt},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// canned answers every query request with status and body, leaving the
// token requests to the simulator.
type canned struct {
	next   http.RoundTripper
	status int
	body   []byte
	header http.Header
}

func (c canned) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(r.URL.Path, "/v1/workspaces/") {
		return c.next.RoundTrip(r)
	}
	h := http.Header{"Content-Type": {"application/json"}}
	for k, v := range c.header {
		h[k] = v
	}
	return &http.Response{StatusCode: c.status, Header: h, Body: io.NopCloser(bytes.NewReader(c.body)), Request: r}, nil
}

// fixtureBody is the 200 body of an example in testdata.
func fixtureBody(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var ex struct {
		Responses map[string]struct {
			Body json.RawMessage `json:"body"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(data, &ex); err != nil {
		t.Fatal(err)
	}
	return ex.Responses["200"].Body
}

func ingest(t *testing.T, srv *simulator.Server, table string, rows any) {
	t.Helper()
	b, _ := json.Marshal(rows)
	res, err := srv.Client().Post(srv.URL+"/sim/v1/loganalytics/"+table, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("ingest %s: %d", table, res.StatusCode)
	}
}

package ui_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/ingest"
	"github.com/vigil-soc/vigil/internal/web"
)

// Admins create, see and revoke integration keys in the UI; the secret
// is shown once, with where its sender puts it; nobody else may.
func TestIntegrationKeysPage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	adm := e.as(t, admin)

	for _, role := range []auth.Role{viewer, responder} {
		c := e.as(t, role)
		c.get(t, "/admin/keys").wantCode(t, http.StatusForbidden)
		c.post(t, "/admin/keys", url.Values{"name": {"sneaky"}, "source": {"api"}}).wantCode(t, http.StatusForbidden)
	}
	if keys, _ := e.db.ListIntegrationKeys(ctx); len(keys) != 0 {
		t.Fatalf("a non-admin created keys: %+v", keys)
	}

	adm.post(t, "/admin/keys", url.Values{"name": {"x"}, "source": {"splunk"}}).
		wantCode(t, http.StatusBadRequest).wantBody(t, "unknown source")

	r := adm.post(t, "/admin/keys", url.Values{"name": {"action group"}, "source": {"azure-monitor"}}).wantCode(t, http.StatusOK)
	m := regexp.MustCompile(`<code id="new-key">(vgi_[^<]+)</code>`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("%s: no new key shown", r)
	}
	secret := m[1]
	r.wantBody(t, `/api/v1/webhooks/azure-monitor?token=`+url.QueryEscape(secret))
	k, err := e.db.IntegrationKeyByHash(ctx, auth.HashToken(secret))
	if err != nil || k.Name != "action group" || k.Source != "azure-monitor" {
		t.Fatalf("got key %+v, %v; want the azure-monitor key", k, err)
	}
	adm.get(t, "/admin/keys").wantCode(t, http.StatusOK).wantBody(t, "action group", k.Hint+"…").wantNoBody(t, secret, `id="new-key"`)

	adm.post(t, idPath("/admin/keys/%d/revoke", k.ID), nil).wantCode(t, http.StatusSeeOther)
	if _, err := e.db.IntegrationKeyByHash(ctx, auth.HashToken(secret)); err == nil {
		t.Error("the revoked key is still valid")
	}
	adm.get(t, "/admin/keys").wantCode(t, http.StatusOK).wantBody(t, "revoked ")
}

// A responder's API token sent as a PagerDuty routing_key (as senders
// were told to until integration keys) reaches no viewer: not on the
// item page with its payloads and timeline, not on the board, not in the
// live-update stream.
func TestViewerSeesNoRoutingKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	secret, _, err := e.db.CreateToken(ctx, "nagios", responder)
	if err != nil {
		t.Fatal(err)
	}
	feed := e.ui.Feed()
	if err := feed.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	c := e.as(t, viewer)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, "GET", e.srv.URL+"/events", nil)
	stream, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	br := bufio.NewReader(stream.Body)
	readUntil := func(prefix string) string {
		t.Helper()
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended before %q: %v", prefix, err)
			}
			if strings.Contains(line, secret) {
				t.Errorf("the live stream carries the token: %q", line)
			}
			if strings.HasPrefix(line, prefix) {
				return line
			}
		}
	}
	readUntil(": connected")

	ev := `{"routing_key":"` + secret + `","event_action":"trigger","dedup_key":"disk-1",` +
		`"payload":{"summary":"disk full on db1","source":"db1","severity":"critical"}}`
	// The sender's event goes through the real PagerDuty endpoint, parser
	// and ingest pipeline, into the store the UI reads.
	pipe := ingest.New(e.db, e.items.Process(), ingest.Options{})
	pctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { pipe.Run(pctx); close(done) }()
	sender := httptest.NewServer(web.New(web.Options{Ingest: pipe, Store: e.db, Incidents: e.db, Items: e.items, Clock: e.clk}))
	t.Cleanup(func() { sender.Close(); stop(); <-done })
	res, err := http.Post(sender.URL+"/v2/enqueue", "application/json", strings.NewReader(ev))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("enqueue: %d, want 202", res.StatusCode)
	}
	if err := feed.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	data := readUntil("data: ")
	var card struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(strings.TrimSpace(data), "data: ")), &card); err != nil || card.ID == 0 {
		t.Fatalf("event %q: %v", data, err)
	}
	c.get(t, idPath("/items/%d", card.ID)).wantCode(t, http.StatusOK).wantBody(t, "disk full on db1", "[redacted]").wantNoBody(t, secret)
	c.get(t, idPath("/items/%d?timeline=all", card.ID)).wantCode(t, http.StatusOK).wantNoBody(t, secret)
	c.get(t, "/board").wantCode(t, http.StatusOK).wantNoBody(t, secret)
}

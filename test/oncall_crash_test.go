package test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	smtp "github.com/emersion/go-smtp"
)

// addVerified adds a contact method for user and verifies it with the
// code it receives, as the user would.
func addVerified(t testing.TB, v vigilAPI, mb *mailbox, hooks *hookReceiver, user, typ, value string) int64 {
	t.Helper()
	var m struct {
		ID int64 `json:"id"`
	}
	if code := v.call(t, "POST", "/api/v1/users/"+user+"/contact-methods",
		fmt.Sprintf(`{"type":%q,"value":%q}`, typ, value), &m); code != 201 {
		t.Fatalf("add %s contact method for %s: %d", typ, user, code)
	}
	var code string
	switch typ {
	case "email":
		got := mb.waitFor(t, 10*time.Second, "verification email to "+user, func(g gotMail) bool {
			return codeRE.MatchString(g.subject) && len(g.to) == 1 && g.to[0] == value
		})
		code = codeRE.FindStringSubmatch(got.subject)[1]
	case "webhook":
		got := hooks.waitFor(t, 10*time.Second, "verification webhook for "+user, func(x hooked) bool {
			return x.event.Type == "contact_method.verify" && x.event.Data.ContactMethodID == m.ID
		})
		code = codeRE.FindStringSubmatch(got.event.Data.Subject)[1]
	}
	if c := v.call(t, "POST", fmt.Sprintf("/api/v1/contact-methods/%d/verify", m.ID), fmt.Sprintf(`{"code":%q}`, code), nil); c != 200 {
		t.Fatalf("verify contact method %d: %d", m.ID, c)
	}
	return m.ID
}

// TestPagingSurvivesKill9 is the outbox promise for pages: the mail relay
// answers 451 and the webhook 503 to every first attempt; vigil is killed
// with SIGKILL while those retries are pending; after the restart every
// page reaches each contact method exactly once, the retried webhook
// keeps its webhook-id, and the escalation timer set before the kill
// still fires, once.
func TestPagingSurvivesKill9(t *testing.T) {
	const first, second = "first@example.com", "second@example.com"
	const pages = 3
	mb := startMailbox(t)
	hooks := startHookReceiver(t)

	data := t.TempDir()
	token := createToken(t, data, "admin")
	addr := freePort(t)
	base := "http://" + addr
	host, port, _ := net.SplitHostPort(mb.addr)
	cfgFile := filepath.Join(t.TempDir(), "vigil.yaml")
	cfg := fmt.Sprintf("paging:\n  base_url: %s\n  smtp:\n    host: %s\n    port: %s\n    from: pager@vigil.example\n    tls: none\n", base, host, port)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, addr, "--data", data, "--config", cfgFile)
	v := vigilAPI{base: base, token: token}

	addVerified(t, v, mb, hooks, first, "email", first)
	hookID := addVerified(t, v, mb, hooks, first, "webhook", hooks.srv.URL+"/pager")
	addVerified(t, v, mb, hooks, second, "email", second)

	// From now on every first attempt fails: the relay refuses each page
	// email once, the receiver each page webhook once (by webhook-id).
	refusedOnce := map[string]bool{}
	mb.setReject(func(m gotMail) error {
		key := strings.Join(m.to, ",") + "|" + m.subject
		if strings.Contains(m.subject, "verification code") || refusedOnce[key] {
			return nil
		}
		refusedOnce[key] = true
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	})
	failedOnce := map[string]bool{}
	hooks.setFail(func(x hooked) (int, string) {
		id := x.header.Get("webhook-id")
		if x.event.Type != "page.triggered" || failedOnce[id] {
			return 0, ""
		}
		failedOnce[id] = true
		return http.StatusServiceUnavailable, "1"
	})

	v.put(t, "/api/v1/oncall/policies/crash", fmt.Sprintf(`{"name":"crash","repeat":0,"steps":[
		{"delay_minutes":1,"targets":[{"type":"user","name":%q}]},
		{"delay_minutes":1,"targets":[{"type":"user","name":%q}]}]}`, first, second))
	v.put(t, "/api/v1/oncall/services/crash", `{"name":"crash","policy":"crash","urgency":"high","condition":"source == \"crash-test\""}`)

	var batch []map[string]any
	for i := range pages {
		batch = append(batch, map[string]any{"source": "crash-test", "source_id": fmt.Sprintf("crash-%d", i),
			"title": fmt.Sprintf("Crash page %d", i), "severity": "high"})
	}
	body, _ := json.Marshal(batch)
	var ans struct {
		Results []struct {
			WorkItemID int64 `json:"workitem_id"`
		} `json:"results"`
	}
	if code := v.call(t, "POST", "/api/v1/alerts", string(body), &ans); code != 200 || len(ans.Results) != pages {
		t.Fatalf("ingest: %d, %d results", code, len(ans.Results))
	}
	created := time.Now()
	links := map[int64]*regexp.Regexp{}
	for _, r := range ans.Results {
		links[r.WorkItemID] = regexp.MustCompile(regexp.QuoteMeta(fmt.Sprintf("%s/items/%d", base, r.WorkItemID)) + `\b`)
	}

	// Every first attempt has failed: the retries are in the outbox.
	eventually(t, 15*time.Second, "every page's first email and webhook refused", func() bool {
		failed := 0
		for _, x := range hooks.all() {
			if x.status == http.StatusServiceUnavailable {
				failed++
			}
		}
		return len(mb.refused()) >= pages && failed >= pages
	})
	if err := srv.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Wait()
	t.Logf("killed with %d emails refused, %d webhooks answered 503, %d emails and %d webhooks accepted",
		len(mb.refused()), len(failedOnce), countMail(mb, first, links), countHooks(hooks, 0))

	srv2 := startServer(t, addr, "--data", data, "--config", cfgFile)
	restarted := time.Now()

	// Each page reaches the first responder's email and webhook.
	for item, link := range links {
		mb.waitFor(t, 30*time.Second, fmt.Sprintf("the page email for item %d to %s", item, first), func(m gotMail) bool {
			return len(m.to) == 1 && m.to[0] == first && link.MatchString(m.text)
		})
		pg, ok := v.pageOfItem(t, item)
		if !ok {
			t.Fatalf("no page for item %d", item)
		}
		got := hooks.waitFor(t, 30*time.Second, fmt.Sprintf("the page webhook for page %d", pg.ID), func(x hooked) bool {
			return x.event.Type == "page.triggered" && x.event.Data.PageID == pg.ID
		})
		if got.event.Data.ContactMethodID != hookID || !failedOnce[got.header.Get("webhook-id")] {
			t.Errorf("page %d's webhook: method %d, webhook-id %q: want method %d and the id of the refused attempt",
				pg.ID, got.event.Data.ContactMethodID, got.header.Get("webhook-id"), hookID)
		}
	}
	t.Logf("after the restart every page reached %s in %s", first, time.Since(restarted).Round(time.Millisecond))

	// The escalation timer set before the kill fires after the restart:
	// step 2 pages the second responder, once per page.
	for item, link := range links {
		mb.waitFor(t, time.Until(created.Add(100*time.Second)), fmt.Sprintf("the escalated page email for item %d to %s", item, second), func(m gotMail) bool {
			return len(m.to) == 1 && m.to[0] == second && link.MatchString(m.text)
		})
	}
	t.Logf("escalation to step 2 reached %s %s after the alerts", second, time.Since(created).Round(time.Second))
	time.Sleep(3 * time.Second) // any duplicate would be due by now: the retries waited 1–3 s

	for item, link := range links {
		for _, to := range []string{first, second} {
			n := 0
			for _, m := range mb.messages() {
				if len(m.to) == 1 && m.to[0] == to && link.MatchString(m.text) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("item %d: %d page emails accepted for %s, want exactly 1", item, n, to)
			}
		}
		pg, _ := v.pageOfItem(t, item)
		if n := countHooks(hooks, pg.ID); n != 1 {
			t.Errorf("page %d: %d page.triggered webhooks accepted, want exactly 1", pg.ID, n)
		}
		if tl := v.timeline(t, item); !strings.Contains(tl, "step 2 of 2 (round 1 of 1): notifying "+second) {
			t.Errorf("item %d's timeline does not tell the escalation:\n%s", item, tl)
		}
	}
	srv2.stop(t)
}

// countMail counts the accepted emails to one address about any of the items.
func countMail(mb *mailbox, to string, links map[int64]*regexp.Regexp) int {
	n := 0
	for _, m := range mb.messages() {
		for _, l := range links {
			if len(m.to) == 1 && m.to[0] == to && l.MatchString(m.text) {
				n++
			}
		}
	}
	return n
}

// countHooks counts the accepted page.triggered webhooks of one page, or
// of every page when page is 0.
func countHooks(h *hookReceiver, page int64) int {
	n := 0
	for _, x := range h.all() {
		if x.status < 300 && x.event.Type == "page.triggered" && (page == 0 || x.event.Data.PageID == page) {
			n++
		}
	}
	return n
}

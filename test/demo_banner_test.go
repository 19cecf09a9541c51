package test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDemoBannerExamples runs `vigil demo` and tries every example its
// banner prints, as a newcomer pastes it into a shell: each curl command
// is read from the banner, split as a POSIX shell splits it (with
// $VIGIL_TOKEN from the banner's export line), run, and checked to do
// what its label says. A new example without a check fails the test, as
// does one the banner no longer prints. It also checks that routine sync
// logs do not bury the banner: while nothing happens, the only lines at
// info are one summary per sync cycle that changed something.
func TestDemoBannerExamples(t *testing.T) {
	addr := freePort(t)
	// No scenario: the examples act on items that nothing else moves.
	cmd := exec.Command(vigilBin, "demo", "--listen", addr, "--scenario", "0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	lines := readBanner(t, stdout)
	d := parseBanner(t, lines)
	started := time.Now()

	eventually(t, 30*time.Second, "the board fills with the preloaded alerts", func() bool {
		var page itemsPage
		return d.apiJSON(t, "/api/v1/workitems?state=New", &page) == 200 && len(page.Items) >= 5
	})
	// Three more cycles with nothing happening (the demo syncs every 3 s).
	time.Sleep(9 * time.Second)
	checkQuietLogs(t, infoLines(logs.String()), time.Since(started))

	d.checkSignIn(t)

	seen := map[string]bool{}
	for _, ex := range d.examples {
		check, ok := bannerChecks[ex.key()]
		if !ok {
			t.Errorf("banner example %q (%s) has no check in this test", ex.label, ex.cmd)
			continue
		}
		seen[ex.key()] = true
		t.Run(ex.key(), func(t *testing.T) { check(t, d, ex) })
	}
	for key := range bannerChecks {
		if !seen[key] {
			t.Errorf("the banner no longer prints the %q example", key)
		}
	}
}

// bannerDemo is a running demo as its banner describes it.
type bannerDemo struct {
	base, password, token, caFile, simURL string
	examples                              []bannerExample
	// approved and dismissed are the items the examples acted on.
	approved int64
	newItems []itemRow
}

type bannerExample struct {
	label string // the words before the command, or on the lines above it
	cmd   string // from "curl" to the end of the line, or a URL
}

// key is the label's first words, up to a colon or parenthesis: "Approve one".
func (e bannerExample) key() string {
	k := e.label
	if i := strings.IndexAny(k, ":("); i >= 0 {
		k = k[:i]
	}
	return strings.TrimSpace(k)
}

type itemRow struct {
	ID     int64  `json:"id"`
	State  string `json:"state"`
	Source string `json:"source"`
	Type   string `json:"type"`
}

type itemsPage struct {
	Items []itemRow `json:"items"`
}

// bannerChecks runs each example and checks it does what its label says.
var bannerChecks = map[string]func(t *testing.T, d *bannerDemo, ex bannerExample){
	"Work items": func(t *testing.T, d *bannerDemo, ex bannerExample) {
		code, body := d.run(t, ex.cmd)
		var page itemsPage
		if code != 200 || json.Unmarshal(body, &page) != nil || len(page.Items) == 0 {
			t.Fatalf("%s: %d %s; want the work items", ex.cmd, code, body)
		}
	},
	"New ones": func(t *testing.T, d *bannerDemo, ex bannerExample) {
		code, body := d.run(t, ex.cmd)
		var page itemsPage
		if code != 200 || json.Unmarshal(body, &page) != nil || len(page.Items) < 2 {
			t.Fatalf("%s: %d %s; want at least two New items", ex.cmd, code, body)
		}
		for _, it := range page.Items {
			if it.State != "New" {
				t.Errorf("item %d is %s, listed as New", it.ID, it.State)
			}
		}
		d.newItems = page.Items
	},
	"Approve one": func(t *testing.T, d *bannerDemo, ex bannerExample) {
		if len(d.newItems) == 0 {
			t.Fatal("no New item listed by the example before")
		}
		id := d.newItems[0].ID
		command := strings.Replace(ex.cmd, "/ID/", fmt.Sprintf("/%d/", id), 1)
		if command == ex.cmd {
			t.Fatalf("%q has no ID to fill in", ex.cmd)
		}
		code, body := d.run(t, command)
		var it itemRow
		if code != 200 || json.Unmarshal(body, &it) != nil || it.State != "Approved" || it.ID != id {
			t.Fatalf("%s: %d %s; want item %d Approved", command, code, body, id)
		}
		d.approved = id
	},
	"Write-backs": func(t *testing.T, d *bannerDemo, ex bannerExample) {
		// Approving moves the item's Azure Boards mirror: a write-back.
		eventually(t, 10*time.Second, "the approval's write-back is listed", func() bool {
			code, body := d.run(t, ex.cmd)
			var page struct {
				Items []struct {
					WorkItemID int64  `json:"workitem_id"`
					Target     string `json:"target"`
				} `json:"items"`
			}
			if code != 200 || json.Unmarshal(body, &page) != nil {
				t.Fatalf("%s: %d %s", ex.cmd, code, body)
			}
			for _, m := range page.Items {
				if m.WorkItemID == d.approved && d.approved != 0 {
					return true
				}
			}
			return false
		})
	},
	"Defender alerts": func(t *testing.T, d *bannerDemo, ex bannerExample) {
		code, body := d.run(t, ex.cmd)
		var page struct {
			Items []struct {
				Source     string `json:"source"`
				SourceID   string `json:"source_id"`
				WorkItemID int64  `json:"workitem_id"`
			} `json:"items"`
		}
		if code != 200 || json.Unmarshal(body, &page) != nil || len(page.Items) == 0 {
			t.Fatalf("%s: %d %s; want the Defender alerts", ex.cmd, code, body)
		}
		for _, a := range page.Items {
			if a.Source != "defender" || a.SourceID == "" {
				t.Errorf("listed alert %+v is not a Defender alert with a source_id", a)
			}
		}
	},
	"Dismiss one in the Defender for Cloud portal": func(t *testing.T, d *bannerDemo, ex bannerExample) {
		if !strings.Contains(ex.label, "Removed or Closed") {
			t.Errorf("label %q no longer says what happens; update this check", ex.label)
		}
		// An alert whose work item is open and that nothing else acted on.
		var alerts struct {
			Items []struct {
				SourceID   string `json:"source_id"`
				WorkItemID int64  `json:"workitem_id"`
			} `json:"items"`
		}
		d.apiJSON(t, "/api/v1/alerts?source=defender", &alerts)
		name, item := "", int64(0)
		for _, a := range alerts.Items {
			if a.WorkItemID != 0 && a.WorkItemID != d.approved && d.state(t, a.WorkItemID) == "New" {
				name, item = a.SourceID, a.WorkItemID
				break
			}
		}
		if name == "" {
			t.Fatalf("no Defender alert with a New work item among %+v", alerts.Items)
		}
		closedBefore := d.closedIncidents(t)
		command := strings.Replace(ex.cmd, "/NAME/", "/"+name+"/", 1)
		if command == ex.cmd {
			t.Fatalf("%q has no NAME to fill in", ex.cmd)
		}
		if code, body := d.run(t, command); code/100 != 2 {
			t.Fatalf("%s: %d %s", command, code, body)
		}
		eventually(t, 20*time.Second, fmt.Sprintf("work item %d is closed", item), func() bool {
			st := d.state(t, item)
			return st == "Removed" || st == "Closed"
		})
		eventually(t, 20*time.Second, "its Sentinel incident is closed", func() bool {
			return d.closedIncidents(t) == closedBefore+1
		})
	},
	"API docs": func(t *testing.T, d *bannerDemo, ex bannerExample) {
		resp, err := http.Get(ex.cmd)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc struct {
			OpenAPI string `json:"openapi"`
		}
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&doc) != nil || doc.OpenAPI == "" {
			t.Errorf("GET %s: %d, want the OpenAPI document", ex.cmd, resp.StatusCode)
		}
	},
}

// readBanner reads the demo's stdout up to the token on the last line.
func readBanner(t testing.TB, stdout io.Reader) []string {
	t.Helper()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var out []string
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("vigil demo stopped; it printed:\n%s", strings.Join(out, "\n"))
			}
			out = append(out, l)
			if strings.HasPrefix(l, "vgl_") {
				go func() {
					for range lines {
					}
				}()
				return out
			}
		case <-deadline:
			t.Fatalf("no banner within 60s; so far:\n%s", strings.Join(out, "\n"))
		}
	}
}

var (
	passwordRE = regexp.MustCompile(`sign in as (\S+) with password ([0-9a-f]+)`)
	exportRE   = regexp.MustCompile(`^\s*export VIGIL_TOKEN=(\S+)$`)
	labelURLRE = regexp.MustCompile(`^\s*([A-Z][^:]*):\s+(https?://\S+)$`)
)

// parseBanner finds the sign-in, the token and the examples.
func parseBanner(t testing.TB, lines []string) *bannerDemo {
	t.Helper()
	d := &bannerDemo{}
	var sim struct {
		ARMURL string `json:"arm_url"`
		CAFile string `json:"ca_file"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &sim); err != nil {
		t.Fatalf("first line %q: %v", lines[0], err)
	}
	d.simURL, d.caFile = sim.ARMURL, sim.CAFile
	d.token = lines[len(lines)-1]
	var pending []string // label lines since the last example
	for _, l := range lines[1:] {
		trimmed := strings.TrimSpace(l)
		switch m := passwordRE.FindStringSubmatch(l); {
		case m != nil:
			d.password = m[2]
		case strings.HasPrefix(trimmed, "vigil demo is running at "):
			d.base = strings.Fields(trimmed)[5]
		}
		if m := exportRE.FindStringSubmatch(l); m != nil {
			if m[1] != d.token {
				t.Errorf("export line sets %q, the last line is %q", m[1], d.token)
			}
			pending = nil
			continue
		}
		if i := strings.Index(l, "curl "); i >= 0 {
			label := strings.TrimSpace(l[:i])
			if label == "" {
				label = strings.Join(pending, " ")
			}
			d.examples = append(d.examples, bannerExample{label: label, cmd: strings.TrimSpace(l[i:])})
			pending = nil
			continue
		}
		if m := labelURLRE.FindStringSubmatch(l); m != nil && len(d.examples) > 0 {
			d.examples = append(d.examples, bannerExample{label: m[1], cmd: m[2]})
			pending = nil
			continue
		}
		if trimmed == "" {
			pending = nil
		} else if len(d.examples) > 0 || strings.HasPrefix(trimmed, "Try") {
			pending = append(pending, trimmed)
		}
	}
	if d.base == "" || d.password == "" || !strings.HasPrefix(d.token, "vgl_") || len(d.examples) == 0 {
		t.Fatalf("banner lacks the URL, password, token or examples:\n%s", strings.Join(lines, "\n"))
	}
	return d
}

// checkSignIn signs in as the banner says and opens the board.
func (d *bannerDemo) checkSignIn(t testing.TB) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := c.PostForm(d.base+"/login", url.Values{"email": {"admin@vigil.demo"}, "password": {d.password}, "next": {"/board"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/board" || !bytes.Contains(body, []byte(`id="board"`)) {
		t.Errorf("signing in with the banner's password: %d at %s, want the board", resp.StatusCode, resp.Request.URL)
	}
}

// run runs a banner's curl command line, as a shell and curl would.
func (d *bannerDemo) run(t testing.TB, line string) (int, []byte) {
	t.Helper()
	words, err := shellWords(line, map[string]string{"VIGIL_TOKEN": d.token})
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	req, client, err := curlRequest(words)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func (d *bannerDemo) apiJSON(t testing.TB, path string, out any) int {
	t.Helper()
	code, body := get(t, d.base+path, d.token)
	if code == 200 {
		if err := json.Unmarshal([]byte(body), out); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return code
}

// closedIncidents counts the Sentinel incidents vigil has seen closed.
func (d *bannerDemo) closedIncidents(t testing.TB) int {
	t.Helper()
	var page struct {
		Items []struct {
			Status string `json:"status"`
		} `json:"items"`
	}
	if code := d.apiJSON(t, "/api/v1/incidents?source=sentinel&limit=500", &page); code != 200 {
		t.Fatalf("list incidents: %d", code)
	}
	n := 0
	for _, in := range page.Items {
		if in.Status == "resolved" || in.Status == "dismissed" {
			n++
		}
	}
	return n
}

func (d *bannerDemo) state(t testing.TB, id int64) string {
	t.Helper()
	var it itemRow
	d.apiJSON(t, fmt.Sprintf("/api/v1/workitems/%d", id), &it)
	return it.State
}

// shellWords splits a command line as a POSIX shell does for the simple
// commands the banner prints: single quotes, double quotes with $VAR,
// and $VAR in bare words. A bare word with a character a shell would
// treat specially (a glob such as ?, or & and ;) is an error: pasted,
// the command would not run as printed.
func shellWords(line string, env map[string]string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	expand := func(s string) string {
		return os.Expand(s, func(k string) string { return env[k] })
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unclosed single quote")
			}
			cur.WriteString(line[i+1 : i+1+j])
			i, inWord = i+1+j, true
		case c == '"':
			j := strings.IndexByte(line[i+1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("unclosed double quote")
			}
			cur.WriteString(expand(line[i+1 : i+1+j]))
			i, inWord = i+1+j, true
		case strings.IndexByte("?*[&;|<>(){}`\\!#", c) >= 0:
			return nil, fmt.Errorf("unquoted %q: a shell would not pass it on as printed", c)
		case c == '$':
			j := i + 1
			for j < len(line) && (line[j] == '_' || line[j] >= 'A' && line[j] <= 'Z' || line[j] >= 'a' && line[j] <= 'z' || line[j] >= '0' && line[j] <= '9') {
				j++
			}
			cur.WriteString(expand(line[i:j]))
			i, inWord = j-1, true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// curlRequest builds the request curl would send for the options the
// banner uses; any other option is an error, so that a new one gets
// checked here before it is printed.
func curlRequest(words []string) (*http.Request, *http.Client, error) {
	if len(words) == 0 || words[0] != "curl" {
		return nil, nil, fmt.Errorf("not a curl command")
	}
	method, target, data, hasData := "", "", "", false
	header := http.Header{}
	client := &http.Client{Timeout: 20 * time.Second}
	for i := 1; i < len(words); i++ {
		w := words[i]
		arg := func() (string, error) {
			if i+1 >= len(words) {
				return "", fmt.Errorf("%s needs a value", w)
			}
			i++
			return words[i], nil
		}
		switch {
		case w == "-H":
			v, err := arg()
			if err != nil {
				return nil, nil, err
			}
			k, val, ok := strings.Cut(v, ":")
			if !ok {
				return nil, nil, fmt.Errorf("header %q has no colon", v)
			}
			header.Add(strings.TrimSpace(k), strings.TrimSpace(val))
		case w == "-d":
			v, err := arg()
			if err != nil {
				return nil, nil, err
			}
			data, hasData = v, true
		case w == "-X":
			v, err := arg()
			if err != nil {
				return nil, nil, err
			}
			method = v
		case w == "--cacert":
			file, err := arg()
			if err != nil {
				return nil, nil, err
			}
			pem, err := os.ReadFile(file)
			if err != nil {
				return nil, nil, fmt.Errorf("--cacert: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, nil, fmt.Errorf("--cacert %s: no certificate", file)
			}
			client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
		case strings.HasPrefix(w, "-"):
			return nil, nil, fmt.Errorf("curl option %s is not checked by this test", w)
		case target != "":
			return nil, nil, fmt.Errorf("two URLs: %s and %s", target, w)
		default:
			target = w
		}
	}
	if method == "" {
		method = "GET"
		if hasData {
			method = "POST"
		}
	}
	var body io.Reader
	if hasData {
		body = strings.NewReader(data)
		header.Set("Content-Type", "application/x-www-form-urlencoded") // as curl -d sends
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	// A plain-HTTP client never trusts the simulator's CA by accident.
	if client.Transport == nil && strings.HasPrefix(target, "https:") {
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{}}
	}
	return req, client, nil
}

// infoLines returns the log lines at info or above after vigil started
// listening (the banner is printed by then).
func infoLines(logs string) []string {
	var out []string
	listening := false
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, `msg="vigil listening"`) {
			listening = true
			continue
		}
		if listening && l != "" && !strings.Contains(l, "level=DEBUG") {
			out = append(out, l)
		}
	}
	return out
}

// checkQuietLogs: with nothing happening, vigil logs at most one line per
// sync cycle, each a summary of what changed.
func checkQuietLogs(t testing.TB, lines []string, elapsed time.Duration) {
	t.Helper()
	cycles := int(elapsed/(3*time.Second)) + 1
	summaries := 0
	for _, l := range lines {
		if strings.Contains(l, `msg="sync cycle: `) {
			summaries++
			continue
		}
		t.Errorf("routine log line at info under the banner: %s", l)
	}
	if summaries > cycles {
		t.Errorf("%d sync cycle lines in %s (about %d cycles), want at most one per cycle:\n%s",
			summaries, elapsed.Round(time.Second), cycles, strings.Join(lines, "\n"))
	}
}

// syncBuffer is a bytes.Buffer safe for a process's writes and a test's
// reads at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

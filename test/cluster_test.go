package test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/vigil-soc/vigil/internal/loadgen"
	"github.com/vigil-soc/vigil/internal/simulator"
	"github.com/vigil-soc/vigil/internal/store/storetest"
)

// clusterInterval is the sync interval of the cluster tests: short, so
// that a run sees many passes and two failovers in under a minute.
const clusterInterval = 2 * time.Second

// lockRelease is the allowance, beyond one interval, for the failover
// after a kill -9: PostgreSQL releasing the dead instance's row lock (its
// socket is closed by the kernel at once, so the server ends its
// transaction at once), a standby asking again (every tenth of the
// interval) and its first poll reaching the simulator. A hung, not dead,
// instance is bounded by its lock's idle timeout instead (the pass
// deadline plus the watchdog's grace), which this test does not exercise.
const lockRelease = time.Second

// pollRoutes are the simulator routes each poller lists at the start of
// its pass; they are what "a Microsoft API poll" means below.
var pollRoutes = []string{"defender.alerts.list", "sentinel.incidents.list", "graph.alerts_v2.list"}

// TestClusterFailover is issue 12's cluster test: three `vigil serve`
// processes on one PostgreSQL database, all configured to sync with one
// `vigil simulate` whose scenario keeps changing the tenant, under mixed
// load (ingest through all three, on both API versions, and work-item
// moves that queue write-backs to Sentinel). The instance holding the
// pollers is killed with SIGKILL in the middle of a pass, then the next
// holder between two passes, while the load goes on. Afterwards nothing
// is lost or doubled, and the pollers resumed within one interval plus
// the lock's release each time.
func TestClusterFailover(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	token := createTokenDSN(t, dsn)
	sim := startSimulate(t, "--preload", "6", "--scenario", "300ms")
	cfg := writeSyncConfig(t, sim.info, clusterInterval)
	args := func() []string { return []string{"--dsn", dsn, "--config", cfg, "--data", t.TempDir()} }
	srvs := make([]*server, 3)
	for i := range srvs {
		srvs[i] = startServer(t, freePort(t), args()...)
	}
	defer func() {
		if t.Failed() {
			for i, s := range srvs {
				t.Logf("instance %d (%s) logs:\n%s", i, s.url, tail(s.logs.String(), 40))
			}
		}
	}()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch := watchPasses(ctx, db, "sync")
	watch.last(t) // the sync module runs

	// Mixed load: ingest through every instance until it dies or the load
	// stops, and work-item moves through whichever instance answers.
	api := &apiClient{token: token, dead: map[string]bool{}}
	for _, s := range srvs {
		api.bases = append(api.bases, s.url)
	}
	ingest := startIngest(t, srvs, token)
	mover := startMover(api)

	time.Sleep(3 * clusterInterval)
	victim1, tk1, midPass := killHolderMidPass(t, sim, watch, srvs, nil)
	api.kill(victim1.url)
	ingest.stop(victim1)
	f1 := waitTakeover(t, sim, watch, victim1, tk1)
	t.Logf("kill -9 of %s %s; %s", victim1.url, midPass, f1)

	time.Sleep(3 * clusterInterval)
	victim2, tk2 := killHolderBetweenPasses(t, watch, srvs, victim1)
	api.kill(victim2.url)
	ingest.stop(victim2)
	f2 := waitTakeover(t, sim, watch, victim2, tk2)
	t.Logf("kill -9 of %s right after its pass; %s", victim2.url, f2)
	for _, f := range []failover{f1, f2} {
		if f.poll > clusterInterval+lockRelease {
			t.Errorf("failover took %s, want at most one interval (%s) plus the lock's release (%s)", f.poll.Round(time.Millisecond), clusterInterval, lockRelease)
		}
	}

	// The first victim comes back (as a supervisor restarts it) and
	// shares the work again, under the same rules.
	back := startServer(t, strings.TrimPrefix(victim1.url, "http://"), args()...)
	srvs = append(srvs, back)
	time.Sleep(3 * clusterInterval)
	acked := ingest.stopAll(t)
	moved := mover.stop()
	// Let the survivors deliver the write-backs the last moves queued.
	time.Sleep(2 * clusterInterval)
	reqs := sim.requests(t, 0)
	for _, s := range srvs {
		if s != victim1 && s != victim2 {
			s.stop(t)
		}
	}
	passes := watch.snapshot()
	cancel()

	t.Logf("load: %d alerts acknowledged (%d over /api/v2), %d work items moved to Closed, %d sync passes seen, %d requests at the simulator",
		len(acked.v1)+len(acked.v2), len(acked.v2), len(moved), len(passes), len(reqs))
	if len(acked.v1) == 0 || len(acked.v2) == 0 || len(moved) == 0 {
		t.Fatalf("the load did too little to check anything: acked v1 %d, v2 %d, moved %d", len(acked.v1), len(acked.v2), len(moved))
	}
	checkAcked(t, db, acked)
	checkNoDuplicateItems(t, db)
	checkWritesOnce(t, db, reqs)
	checkPollsOncePerInterval(t, reqs)
}

// ingestLoad runs one load generator per instance: the first two send
// vigil's format to /api/v1/alerts, the third Alertmanager's to
// /api/v2/alerts. Each logs the source ids of the alerts it was answered
// 2xx for.
type ingestLoad struct {
	mu      sync.Mutex
	cancels map[*server]context.CancelFunc
	files   map[*server]*os.File
	v2      map[*server]bool
	wg      sync.WaitGroup
	results []loadgen.Result
}

func startIngest(t testing.TB, srvs []*server, token string) *ingestLoad {
	t.Helper()
	l := &ingestLoad{cancels: map[*server]context.CancelFunc{}, files: map[*server]*os.File{}, v2: map[*server]bool{}}
	dir := t.TempDir()
	for i, s := range srvs {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("acks-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		format := loadgen.FormatVigil
		if i == 2 {
			format = loadgen.FormatAlertmanager
			l.v2[s] = true
		}
		ctx, cancel := context.WithCancel(context.Background())
		l.cancels[s], l.files[s] = cancel, f
		var mu sync.Mutex
		l.wg.Go(func() {
			// An open loop at a modest rate: the point is load during the
			// failovers, not throughput.
			res, err := loadgen.Run(ctx, loadgen.Config{URL: s.url, Token: token, Format: format, Batch: 50, Concurrency: 4,
				Rate: 10, Duration: 2 * time.Minute, Seed: int64(100 + i), Timeout: 5 * time.Second,
				AckLog: lockedWriter{mu: &mu, w: f}})
			if err != nil {
				t.Errorf("load through %s: %v", s.url, err)
			}
			l.mu.Lock()
			l.results = append(l.results, res)
			l.mu.Unlock()
		})
	}
	return l
}

// stop ends the load through s (killed: its requests would only fail).
func (l *ingestLoad) stop(s *server) { l.cancels[s]() }

// ackedAlerts are the acknowledged source ids, by API version.
type ackedAlerts struct{ v1, v2 []string }

func (l *ingestLoad) stopAll(t testing.TB) ackedAlerts {
	t.Helper()
	for _, c := range l.cancels {
		c()
	}
	l.wg.Wait()
	var out ackedAlerts
	for s, f := range l.files {
		f.Close()
		ids := readLines(t, f.Name())
		if l.v2[s] {
			out.v2 = append(out.v2, ids...)
		} else {
			out.v1 = append(out.v1, ids...)
		}
	}
	return out
}

// moves walks Sentinel-linked work items to Closed through the API; each
// close queues write-backs (the incident closed in Sentinel, its
// Defender for Cloud alert resolved).
type moves struct {
	stopc chan struct{}
	done  chan []int64
}

func startMover(api *apiClient) *moves {
	m := &moves{stopc: make(chan struct{}), done: make(chan []int64, 1)}
	go func() {
		tried := map[int64]bool{}
		var closed []int64
		defer func() { m.done <- closed }()
		for {
			select {
			case <-m.stopc:
				return
			case <-time.After(400 * time.Millisecond):
			}
			var page struct {
				Items []struct {
					WorkItemID int64  `json:"workitem_id"`
					Status     string `json:"status"`
				} `json:"items"`
			}
			if code, err := api.do("GET", "/api/v1/incidents?source=sentinel&limit=200", "", &page); err != nil || code != 200 {
				continue
			}
			for _, in := range page.Items {
				if in.WorkItemID == 0 || tried[in.WorkItemID] || in.Status == "Closed" {
					continue
				}
				tried[in.WorkItemID] = true
				if walkClosed(api, in.WorkItemID) {
					closed = append(closed, in.WorkItemID)
				}
				break // one item per round, spread over the run
			}
		}
	}()
	return m
}

func (m *moves) stop() []int64 {
	close(m.stopc)
	return <-m.done
}

// walkClosed moves an item through the process to Closed with a reason;
// false when a step was refused (the tenant closed it first) or no
// instance answered.
func walkClosed(api *apiClient, id int64) bool {
	for _, step := range []struct{ to, reason string }{{"Approved", ""}, {"Active", ""}, {"Verification", ""}, {"Closed", "true positive: contained during the cluster test"}} {
		code, err := api.do("POST", fmt.Sprintf("/api/v1/workitems/%d/transitions", id), fmt.Sprintf(`{"to":%q,"reason":%q}`, step.to, step.reason), nil)
		if err != nil || code != 200 {
			return false
		}
	}
	return true
}

// clientOwners says which instance each client tag of the simulator's
// log belongs to, for route: the instance whose committed pass was under
// way when the tag polled. Each instance signs in for itself, so a tag
// is one instance's.
func clientOwners(passes []moduleState, reqs []simulator.RequestRecord, route string) map[string]string {
	owners := map[string]string{}
	for _, r := range reqs {
		if r.Route != route || r.Client == "" {
			continue
		}
		for _, p := range passes {
			if !r.At.Before(p.LastStart) && !r.At.After(p.LastEnd) {
				owners[r.Client] = listenOf(p.Holder)
			}
		}
	}
	return owners
}

func serverAt(srvs []*server, listen string) *server {
	for _, s := range srvs {
		if s.url == "http://"+listen {
			return s
		}
	}
	return nil
}

// killHolderMidPass waits for a pass to begin on a live instance (its
// first poll reaches the simulator) and kills that instance with
// SIGKILL at once. It reports whether the kill landed inside the pass
// (the pass never committed) or just after it.
func killHolderMidPass(t testing.TB, sim *simProcess, watch *passWatch, srvs []*server, exclude *server) (*server, time.Time, string) {
	t.Helper()
	all := sim.requests(t, 0)
	seq := 0
	if len(all) > 0 {
		seq = all[len(all)-1].Seq
	}
	deadline := time.Now().Add(10 * clusterInterval)
	for time.Now().Before(deadline) {
		fresh := sim.requests(t, seq)
		all = append(all, fresh...)
		owners := clientOwners(watch.snapshot(), all, pollRoutes[0])
		for _, r := range fresh {
			seq = r.Seq
			if r.Route != pollRoutes[0] {
				continue
			}
			victim := serverAt(srvs, owners[r.Client])
			if victim == nil || victim == exclude {
				continue
			}
			tk := kill(t, victim)
			// Did the pass commit before the kill?
			time.Sleep(100 * time.Millisecond)
			for _, p := range watch.snapshot() {
				if listenOf(p.Holder) == strings.TrimPrefix(victim.url, "http://") && !r.At.Before(p.LastStart) && !r.At.After(p.LastEnd) {
					return victim, tk, "after its pass had ended"
				}
			}
			return victim, tk, fmt.Sprintf("in the middle of a pass (its first poll %s before the kill)", tk.Sub(r.At).Round(time.Millisecond))
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no pass began on a known instance within 10 intervals")
	return nil, time.Time{}, ""
}

// killHolderBetweenPasses waits for a pass to end on a live instance
// other than exclude and kills it with SIGKILL at once.
func killHolderBetweenPasses(t testing.TB, watch *passWatch, srvs []*server, exclude *server) (*server, time.Time) {
	t.Helper()
	n := len(watch.snapshot())
	deadline := time.Now().Add(10 * clusterInterval)
	for time.Now().Before(deadline) {
		p := watch.snapshot()
		for _, pass := range p[n:] {
			if s := serverAt(srvs, listenOf(pass.Holder)); s != nil && s != exclude {
				return s, kill(t, s)
			}
		}
		n = len(p)
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no pass ended on a live instance within 10 intervals")
	return nil, time.Time{}
}

func kill(t testing.TB, s *server) time.Time {
	t.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	tk := time.Now()
	s.cmd.Wait()
	return tk
}

// failover is how long the pollers took to resume after a kill.
type failover struct {
	// poll is the time from the kill to the next successful poll of
	// Microsoft's APIs (the first poller's list answered 2xx at the
	// simulator): the failover figure.
	poll time.Duration
	// pass is the time to the end of that instance's successful sync
	// pass, as engine_modules records it.
	pass time.Duration
}

func (f failover) String() string {
	return fmt.Sprintf("the next successful poll came from another instance %s later (its sync pass succeeded %s after the kill)",
		f.poll.Round(time.Millisecond), f.pass.Round(time.Millisecond))
}

// waitTakeover measures the failover after the kill of victim at tk: the
// victim is dead, so any later poll is another instance's.
func waitTakeover(t testing.TB, sim *simProcess, watch *passWatch, victim *server, tk time.Time) failover {
	t.Helper()
	var f failover
	deadline := tk.Add(5 * clusterInterval)
	for time.Now().Before(deadline) && f.pass == 0 {
		for _, p := range watch.snapshot() {
			if p.LastSuccess.After(tk) && "http://"+listenOf(p.Holder) != victim.url {
				f.pass = p.LastSuccess.Sub(tk)
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if f.pass == 0 {
		t.Fatalf("no other instance completed a sync pass within %s of the kill", 5*clusterInterval)
	}
	for _, r := range sim.requests(t, 0) {
		if r.Route == pollRoutes[0] && r.At.After(tk) && r.Status/100 == 2 {
			f.poll = r.At.Sub(tk)
			return f
		}
	}
	t.Fatal("a sync pass succeeded after the kill, but the simulator saw no poll")
	return f
}

// checkAcked: every alert answered 2xx is stored exactly once, with one
// work item.
func checkAcked(t testing.TB, db *sql.DB, acked ackedAlerts) {
	t.Helper()
	count := func(query string) map[string]int {
		rows, err := db.Query(query)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]int{}
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				t.Fatal(err)
			}
			out[id] = n
		}
		return out
	}
	// vigil's format: the source id is the alert's identity.
	v1 := count(`SELECT source_id, COUNT(*) FROM alerts WHERE source = 'loadgen' GROUP BY source_id`)
	// Alertmanager's: the identity is the label set's fingerprint; the
	// generator's id is its source_id label, kept in the stored payload.
	v2 := count(`SELECT (v.raw::jsonb)->'labels'->>'source_id', COUNT(DISTINCT a.id) FROM alerts a JOIN alert_versions v ON v.alert_id = a.id
	    WHERE a.source = 'alertmanager' GROUP BY 1`)
	missing, doubled := 0, 0
	for _, c := range []struct {
		ids    []string
		stored map[string]int
	}{{acked.v1, v1}, {acked.v2, v2}} {
		for _, id := range c.ids {
			switch n := c.stored[id]; {
			case n == 0:
				missing++
				if missing <= 5 {
					t.Errorf("alert %s was acknowledged but is not stored", id)
				}
			case n > 1:
				doubled++
				if doubled <= 5 {
					t.Errorf("alert %s is stored %d times", id, n)
				}
			}
		}
	}
	if missing+doubled > 0 {
		t.Errorf("acknowledged alerts: %d missing, %d stored more than once; want 0 and 0", missing, doubled)
	}
}

// checkNoDuplicateItems: one alert row per source and dedup key, one work
// item per alert and per incident, and every ingested alert has its item.
func checkNoDuplicateItems(t testing.TB, db *sql.DB) {
	t.Helper()
	checks := []struct{ name, query string }{
		{"alerts with the same source and dedup key", `SELECT COUNT(*) FROM (SELECT 1 FROM alerts GROUP BY source, dedup_key HAVING COUNT(*) > 1) x`},
		{"incidents with the same source and id", `SELECT COUNT(*) FROM (SELECT 1 FROM incidents GROUP BY source, source_id HAVING COUNT(*) > 1) x`},
		{"alerts linked to two work items", `SELECT COUNT(*) FROM (SELECT alert_id FROM workitem_alerts GROUP BY alert_id HAVING COUNT(*) > 1) x`},
		{"incidents linked to two work items", `SELECT COUNT(*) FROM (SELECT incident_id FROM workitem_incidents GROUP BY incident_id HAVING COUNT(*) > 1) x`},
		{"alerts whose item is not theirs", `SELECT COUNT(*) FROM alerts a JOIN workitem_alerts l ON l.alert_id = a.id WHERE a.workitem_id IS DISTINCT FROM l.workitem_id`},
		{"ingested alerts without a work item", `SELECT COUNT(*) FROM alerts WHERE source IN ('loadgen', 'alertmanager') AND workitem_id IS NULL`},
		{"work items mirrored twice to one system", `SELECT COUNT(*) FROM (SELECT 1 FROM external_refs GROUP BY workitem_id, system HAVING COUNT(*) > 1) x`},
	}
	for _, c := range checks {
		var n int
		if err := db.QueryRow(c.query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if n != 0 {
			t.Errorf("%s: %d, want 0", c.name, n)
		}
	}
}

// checkWritesOnce: no change was applied twice at the simulator. A write
// is a request to a simulated service that is not a read (not GET, not
// the token endpoint, not Sentinel's list-alerts POST). The same change
// is the same route on the same resource path with the same body (by
// hash): vigil's write-backs carry everything they set in the body, and
// a Sentinel update carries the etag it read, so a legitimate second
// change differs in its body. Applied means answered 2xx: a resend the
// service refused (409 on a stale etag) changed nothing. Each moved item
// must also have caused its incident's close at most once.
func checkWritesOnce(t testing.TB, db *sql.DB, reqs []simulator.RequestRecord) {
	t.Helper()
	applied := map[string]int{}
	writes := 0
	for _, r := range reqs {
		if !isWrite(r) || r.Status/100 != 2 {
			continue
		}
		writes++
		applied[r.Route+" "+r.Path+" "+r.BodySHA256]++
	}
	dups := 0
	for k, n := range applied {
		if n > 1 {
			dups++
			t.Errorf("the same write was applied %d times at the simulator: %s", n, k)
		}
	}
	// A write a killed instance had claimed waits for its lease to end
	// (minutes) before another instance sends it: at-least-once, never
	// twice at the same time.
	var queued, done, leased, waiting int
	now := time.Now().UnixMicro()
	db.QueryRow(`SELECT COUNT(*), COUNT(*) FILTER (WHERE state = 'done'),
	    COUNT(*) FILTER (WHERE state = 'pending' AND lease_until > $1), COUNT(*) FILTER (WHERE state = 'pending' AND lease_until <= $1)
	    FROM outbox`, now).Scan(&queued, &done, &leased, &waiting)
	t.Logf("writes applied at the simulator: %d (%d duplicates); outbox: %d queued, %d delivered, %d leased by a killed instance, %d waiting to be due",
		writes, dups, queued, done, leased, waiting)
	if writes == 0 {
		t.Errorf("no write-back reached the simulator: the moves queued nothing")
	}
}

func isWrite(r simulator.RequestRecord) bool {
	switch {
	case r.Method == "GET" || r.Method == "HEAD":
		return false
	case strings.HasPrefix(r.Route, "sim.") || strings.HasPrefix(r.Route, "entra.") || r.Route == "":
		return false
	case r.Route == "sentinel.incidents.alerts" || r.Route == "devops.wiql" || r.Route == "devops.workitemsbatch":
		return false // reads sent as POST
	}
	return true
}

// pollPass is one sync pass as the simulator saw it: the poll requests
// from the first poller's list (pollRoutes[0]) up to the next one.
type pollPass struct {
	start   time.Time
	clients map[string]bool            // who polled in it
	routes  map[string]map[string]bool // route → clients that listed it
}

// checkPollsOncePerInterval: no API was polled twice within one
// interval, whichever instances polled. A sync pass runs the pollers in
// order, each listing its API once (with its pages); the next pass may
// begin when 90% of the interval since the last one began has gone by
// (so that a timer firing a little early does not skip a whole
// interval), also when the last one's instance was killed in the middle.
// So, from the simulator's log: the passes (each beginning with the first
// poller's list) begin at least that far apart, less a little for
// scheduling, and within a pass every API was listed by one instance
// only. The poll of a later poller may fall closer to the next pass's
// than that (the pollers before it take longer in one pass than in the
// next), which is why passes, not single routes, are compared.
func checkPollsOncePerInterval(t testing.TB, reqs []simulator.RequestRecord) {
	t.Helper()
	// The first request of a pass follows its claim by a few
	// milliseconds to a few hundred under load; a pass begun twice
	// (its start lost with a killed instance) shows as ~0.2 s apart.
	const slack = 250 * time.Millisecond
	minGap := clusterInterval*9/10 - slack
	var passes []*pollPass
	for _, r := range reqs {
		if !slices.Contains(pollRoutes, r.Route) {
			continue
		}
		n := len(passes)
		// A new pass begins with the first poller's list, unless it is a
		// further page of the same client's list just before.
		if n == 0 || r.Route == pollRoutes[0] && !(passes[n-1].routes[r.Route][r.Client] && len(passes[n-1].routes) == 1 && r.At.Sub(passes[n-1].start) < clusterInterval/4) {
			passes = append(passes, &pollPass{start: r.At, clients: map[string]bool{}, routes: map[string]map[string]bool{}})
			n++
		}
		p := passes[n-1]
		p.clients[r.Client] = true
		if p.routes[r.Route] == nil {
			p.routes[r.Route] = map[string]bool{}
		}
		p.routes[r.Route][r.Client] = true
	}
	clients := map[string]bool{}
	closest := time.Hour
	for i, p := range passes {
		for route, by := range p.routes {
			if len(by) > 1 {
				t.Errorf("%s was listed by %d instances in the pass that began at %s", route, len(by), p.start.Format("15:04:05.000"))
			}
			for c := range by {
				clients[route+" "+c] = true
			}
		}
		if i == 0 {
			continue
		}
		gap := p.start.Sub(passes[i-1].start)
		closest = min(closest, gap)
		if gap < minGap {
			t.Errorf("Microsoft's APIs were polled twice within one interval: passes %s apart at %s, want at least %s",
				gap.Round(time.Millisecond), p.start.Format("15:04:05.000"), minGap)
		}
	}
	t.Logf("polls: %d sync passes at the simulator, by %d client credentials over %d APIs; the closest two began %s apart (minimum %s)",
		len(passes), len(clients), len(pollRoutes), closest.Round(time.Millisecond), minGap)
	if len(passes) < 5 {
		t.Errorf("only %d sync passes polled: the pollers hardly ran", len(passes))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestClusterStandDown: an instance whose module version is older than
// the one recorded leaves the module alone. Two real instances run the
// outbox sender (version 1) until the database says a release with
// version 99 of it has run; from then on neither runs a pass: both count
// stand-downs instead, and the module's row shows no new pass.
func TestClusterStandDown(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	createTokenDSN(t, dsn) // migrates
	srvs := []*server{
		startServer(t, freePort(t), "--dsn", dsn, "--data", t.TempDir()),
		startServer(t, freePort(t), "--dsn", dsn, "--data", t.TempDir()),
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	passes := func() (ran, stoodDown float64) {
		for _, s := range srvs {
			m := scrape(t, s.url)
			ran += sumMetric(m, "vigil_engine_passes_total", `module="outbox"`)
			stoodDown += sumMetric(m, "vigil_engine_passes_skipped_total", `module="outbox"`, `reason="stand-down"`)
		}
		return ran, stoodDown
	}
	eventually(t, 10*time.Second, "the outbox sender runs", func() bool { ran, _ := passes(); return ran >= 2 })

	// The newer release's mark. The UPDATE waits for a pass in progress.
	if _, err := db.ExecContext(ctx, `UPDATE engine_modules SET version = 99 WHERE name = 'outbox'`); err != nil {
		t.Fatal(err)
	}
	before, err := readModule(ctx, db, "outbox")
	if err != nil {
		t.Fatal(err)
	}
	ran0, down0 := passes()
	time.Sleep(3 * 2 * time.Second) // three of the outbox's intervals
	ran1, down1 := passes()
	after, err := readModule(ctx, db, "outbox")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("outbox passes: %v before the mark, %v after; stand-downs %v → %v", ran0, ran1, down0, down1)
	if ran1 != ran0 {
		t.Errorf("outbox passes went from %v to %v after version 99 was recorded, want no new pass", ran0, ran1)
	}
	if down1-down0 < 2*float64(len(srvs)) {
		t.Errorf("stand-downs went from %v to %v, want at least two more per instance", down0, down1)
	}
	if after.lastStartUS != before.lastStartUS || after.Version != 99 {
		t.Errorf("outbox row: last_start %v → %v, version %d; want unchanged and 99", before.LastStart, after.LastStart, after.Version)
	}
	// The other modules carry on.
	m := scrape(t, srvs[0].url)
	if sumMetric(m, "vigil_engine_passes_skipped_total", `module="sessions"`, `reason="stand-down"`) != 0 {
		t.Errorf("the sessions module stood down too")
	}
}

// TestClusterRoles: `--role api` serves the API and runs no engine
// module, `--role engine` serves only health, readiness and metrics, and
// both refuse SQLite.
func TestClusterRoles(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	token := createTokenDSN(t, dsn)
	apiSrv := startServer(t, freePort(t), "--dsn", dsn, "--data", t.TempDir(), "--role", "api")
	engSrv := startServer(t, freePort(t), "--dsn", dsn, "--data", t.TempDir(), "--role", "engine")

	if code, body := get(t, apiSrv.url+"/api/v1/workitems", token); code != 200 {
		t.Errorf("role api: GET /api/v1/workitems = %d %s, want 200", code, body)
	}
	// The engine instance runs the outbox sender at once and every 2s;
	// by the time it has run twice, an api instance with an engine would
	// have too.
	eventually(t, 10*time.Second, "the engine instance runs the outbox", func() bool {
		return sumMetric(scrape(t, engSrv.url), "vigil_engine_passes_total", `module="outbox"`) >= 2
	})
	for name, v := range scrape(t, apiSrv.url) {
		if strings.HasPrefix(name, "vigil_engine_passes") {
			t.Errorf("role api: /metrics has %s = %v, want no engine pass at all", name, v)
		}
	}

	for _, c := range []struct {
		path string
		want int
	}{{"/healthz", 200}, {"/readyz", 200}, {"/metrics", 200}, {"/api/v1/workitems", 404}, {"/", 404}} {
		if code, _ := get(t, engSrv.url+c.path, token); code != c.want {
			t.Errorf("role engine: GET %s = %d, want %d", c.path, code, c.want)
		}
	}

	for _, role := range []string{"api", "engine"} {
		cmd := exec.Command(vigilBin, "serve", "--listen", freePort(t), "--data", t.TempDir(), "--role", role)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "role") || !strings.Contains(string(out), "PostgreSQL") {
			t.Errorf("serve --role %s on SQLite: %v\n%s\nwant a refusal naming the role and PostgreSQL", role, err, out)
		}
	}
}

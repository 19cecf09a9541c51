package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/workitem"
)

func TestSignIn(t *testing.T) {
	e := start(t)
	ctx := browser(t, 1280, 800)

	// A page needs a session: the board sends the browser to sign in,
	// and back to the board afterwards.
	within(t, ctx, 20*time.Second, "open the board signed out",
		chromedp.Navigate(e.base+"/board"),
		chromedp.WaitVisible(chromedp.ID("password")),
	)
	if loc := eval[string](t, ctx, "location.pathname + location.search"); loc != "/login?next=%2Fboard" {
		t.Errorf("signed-out board went to %q, want /login?next=%%2Fboard", loc)
	}

	// A wrong password is refused with one message that does not say
	// whether the email exists.
	within(t, ctx, 20*time.Second, "wrong password",
		chromedp.SendKeys(chromedp.ID("email"), users[auth.RoleResponder]),
		chromedp.SendKeys(chromedp.ID("password"), "not the password"),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS(".login .error")),
	)
	if got := text(t, ctx, ".login .error"); got != "wrong email or password" {
		t.Errorf("error after a wrong password = %q", got)
	}

	e.signIn(t, ctx, users[auth.RoleResponder])
	if got := text(t, ctx, ".me .name"); got != users[auth.RoleResponder] {
		t.Errorf("signed in as %q", got)
	}
	cookies := eval[string](t, ctx, "document.cookie")
	if strings.Contains(cookies, "vigil_session") {
		t.Errorf("the session cookie is readable from scripts: %q", cookies)
	}

	// Sign out ends the session: the board asks to sign in again.
	within(t, ctx, 20*time.Second, "sign out",
		chromedp.Click(chromedp.CSS(".me button")),
		chromedp.WaitVisible(chromedp.CSS(".login .flash")),
		chromedp.Navigate(e.base+"/board"),
		chromedp.WaitVisible(chromedp.ID("password")),
	)
}

func TestTriageNewItems(t *testing.T) {
	e := start(t)
	ids := e.ingest(t,
		newAlert("alertmanager", "", "Disk full on db-1", alert.SeverityHigh),
		newAlert("alertmanager", "", "Suspicious sign-in for bob@contoso.com", alert.SeverityMedium),
		newAlert("alertmanager", "", "Port scan from 203.0.113.7", alert.SeverityLow),
	)
	ctx := browser(t, 1280, 800)
	e.signIn(t, ctx, users[auth.RoleResponder])

	within(t, ctx, 20*time.Second, "open triage",
		chromedp.Navigate(e.base+"/triage"),
		chromedp.WaitVisible(chromedp.ID("triage-form")),
	)
	if got := text(t, ctx, ".page-head .total"); got != "3 new" {
		t.Errorf("triage shows %q, want 3 new", got)
	}

	// Approve two at once.
	within(t, ctx, 20*time.Second, "approve two",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[name=id][value="%d"]`, ids[0]))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[name=id][value="%d"]`, ids[1]))),
		chromedp.Click(chromedp.CSS(`button[value="Approved"]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	if got := text(t, ctx, ".flash"); got != "Moved 2 items to Approved." {
		t.Errorf("flash = %q", got)
	}

	// Removing needs a reason: the page refuses without one, and
	// nothing moves.
	within(t, ctx, 20*time.Second, "remove without a reason",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[name=id][value="%d"]`, ids[2]))),
		chromedp.Click(chromedp.CSS(`button[value="Removed"]`)),
		chromedp.WaitVisible(chromedp.CSS("#toast.bad")),
	)
	if got := text(t, ctx, "#toast"); !strings.Contains(got, "reason is required") {
		t.Errorf("toast = %q", got)
	}
	if st := e.item(t, ids[2]).State; st != "New" {
		t.Fatalf("item moved to %s without a reason", st)
	}
	within(t, ctx, 20*time.Second, "remove with a reason",
		chromedp.SendKeys(chromedp.ID("triage-reason"), "expected activity: nightly scanner"),
		chromedp.Click(chromedp.CSS(`button[value="Removed"]`)),
		chromedp.WaitVisible(chromedp.CSS(".empty")),
	)
	want := map[int64]string{ids[0]: "Approved", ids[1]: "Approved", ids[2]: "Removed"}
	for id, st := range want {
		if got := e.item(t, id).State; got != st {
			t.Errorf("item %d is %s, want %s", id, got, st)
		}
	}
	entries, err := e.app.Items.Timeline(context.Background(), auth.System, ids[2], 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	last := entries[len(entries)-1]
	if last.Actor != users[auth.RoleResponder] || last.Reason != "expected activity: nightly scanner" {
		t.Errorf("last timeline entry = %+v, want the responder's move with the reason", last)
	}
}

// cardIn waits until card id is in the column of state.
func cardIn(id int64, state string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`.cards[data-state=%q] #card-%d`, state, id)))
}

func TestMoveThroughTheProcess(t *testing.T) {
	e := start(t)
	ids := e.ingest(t,
		newAlert("sentinel", "inc-1", "Mass download by a departing employee", alert.SeverityHigh,
			alert.Entity{Kind: alert.EntityAccount, Value: "eve@contoso.com"}),
		newAlert("sentinel", "inc-2", "Impossible travel for alice@contoso.com", alert.SeverityMedium),
	)
	id := ids[0]
	ctx := browser(t, 1280, 800)
	e.signIn(t, ctx, users[auth.RoleResponder])
	within(t, ctx, 10*time.Second, "card on the board", cardIn(id, "New"))

	// A move the process does not allow is refused by the server, which
	// says what is allowed; the card stays where it was.
	eval[any](t, ctx, fmt.Sprintf("vigil.move(%d, 'Closed', 'true positive: skip ahead')", id))
	within(t, ctx, 10*time.Second, "refusal shown", chromedp.WaitVisible(chromedp.CSS("#toast.bad")))
	if got := text(t, ctx, "#toast"); !strings.Contains(got, "cannot move from New to Closed; allowed: Approved, Removed") {
		t.Errorf("refusal = %q", got)
	}
	within(t, ctx, 5*time.Second, "card still New", cardIn(id, "New"))

	// Dragging onto a column the process does not allow does nothing;
	// dragging onto an allowed one moves the card.
	drag(t, ctx, fmt.Sprintf("#card-%d .card-meta .id", id), `.column[data-state="Active"] .cards`)
	within(t, ctx, 5*time.Second, "refused drag", chromedp.Sleep(300*time.Millisecond), cardIn(id, "New"))
	if st := e.item(t, id).State; st != "New" {
		t.Fatalf("a refused drag moved the item to %s", st)
	}
	drag(t, ctx, fmt.Sprintf("#card-%d .card-meta .id", id), `.column[data-state="Approved"] .cards`)
	within(t, ctx, 10*time.Second, "dragged to Approved", cardIn(id, "Approved"))

	// Then with the card's buttons.
	for _, to := range []string{"Active", "Verification"} {
		within(t, ctx, 20*time.Second, "move to "+to,
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`#card-%d button[data-to=%q]`, id, to))),
			cardIn(id, to),
		)
	}
	if got := text(t, ctx, `[data-count="Verification"]`); got != "1" {
		t.Errorf("Verification count = %q, want 1", got)
	}

	// Closing needs a reason: the button opens the reason dialog, whose
	// presets start the reason.
	within(t, ctx, 20*time.Second, "close with a reason",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#card-%d a[data-to="Closed"]`, id))),
		chromedp.WaitVisible(chromedp.CSS("dialog[open] textarea")),
		chromedp.Click(chromedp.CSS(`dialog [data-preset^="True positive"]`)),
		chromedp.SendKeys(chromedp.CSS("dialog textarea"), "data exfiltration confirmed, account disabled"),
	)
	shot(t, ctx, "move-dialog")
	within(t, ctx, 20*time.Second, "submit the reason",
		chromedp.Click(chromedp.CSS(`dialog button[type=submit]`)),
		cardIn(id, "Closed"),
		chromedp.WaitNotPresent(chromedp.CSS("dialog[open]")),
	)
	it := e.item(t, id)
	if it.State != "Closed" || it.ClosedAt == nil {
		t.Fatalf("item is %s (closed at %v), want Closed", it.State, it.ClosedAt)
	}

	// The item page tells the whole story.
	e.app.Items.Comment(context.Background(), auth.Actor{Kind: "user", Name: users[auth.RoleResponder], Role: auth.RoleResponder},
		id, "Called Eve's manager; laptop collected.")
	within(t, ctx, 20*time.Second, "open the item",
		chromedp.Click(chromedp.CSS(fmt.Sprintf("#card-%d .title", id))),
		chromedp.WaitVisible(chromedp.ID("h-timeline")),
	)
	timeline := text(t, ctx, ".timeline")
	for _, want := range []string{"moved from New to Approved", "moved from Approved to Active", "moved from Active to Verification",
		"moved from Verification to Closed", "True positive: data exfiltration confirmed", users[auth.RoleResponder]} {
		if !strings.Contains(timeline, want) {
			t.Errorf("timeline lacks %q:\n%s", want, timeline)
		}
	}
	if got := text(t, ctx, ".entities"); !strings.Contains(got, "eve@contoso.com") {
		t.Errorf("entities = %q", got)
	}
	shot(t, ctx, "item")
}

func TestViewerCannotMoveCards(t *testing.T) {
	e := start(t)
	ids := e.ingest(t, newAlert("alertmanager", "", "Certificate expires in 3 days", alert.SeverityLow))
	id := ids[0]
	ctx := browser(t, 1280, 800)
	e.signIn(t, ctx, users[auth.RoleViewer])
	within(t, ctx, 10*time.Second, "card visible", cardIn(id, "New"))

	// No buttons, nothing draggable.
	if n := eval[int](t, ctx, "document.querySelectorAll('.card .moves, .card[data-movable]').length"); n != 0 {
		t.Errorf("viewer sees %d move controls", n)
	}
	drag(t, ctx, fmt.Sprintf("#card-%d .card-meta .id", id), `.column[data-state="Approved"] .cards`)
	within(t, ctx, 5*time.Second, "viewer's drag", chromedp.Sleep(300*time.Millisecond), cardIn(id, "New"))

	// A request forged from the page with the viewer's own session and
	// CSRF token is refused by the domain layer.
	status := eval[string](t, ctx, fmt.Sprintf(`(async () => {
		const f = new FormData(); f.set("to", "Approved");
		const r = await fetch("/items/%d/move", {method: "POST", body: f,
			headers: {"X-CSRF-Token": document.body.dataset.csrf, "X-Requested-With": "fetch"}});
		return r.status + " " + await r.text();
	})()`, id))
	if !strings.HasPrefix(status, "403 role viewer may not triage") {
		t.Errorf("viewer's forged move answered %q, want 403", status)
	}
	// Without the CSRF token, even a responder's session could not.
	status = eval[string](t, ctx, fmt.Sprintf(`(async () => {
		const f = new FormData(); f.set("to", "Approved");
		const r = await fetch("/items/%d/move", {method: "POST", body: f, headers: {"X-Requested-With": "fetch"}});
		return r.status + " " + await r.text();
	})()`, id))
	if !strings.HasPrefix(status, "403 the form has expired") {
		t.Errorf("move without a CSRF token answered %q, want 403", status)
	}
	if st := e.item(t, id).State; st != "New" {
		t.Fatalf("viewer moved the item to %s", st)
	}

	// The item page shows the fields read-only.
	within(t, ctx, 20*time.Second, "item page as viewer",
		chromedp.Navigate(fmt.Sprintf("%s/items/%d", e.base, id)),
		chromedp.WaitVisible(chromedp.ID("h-timeline")),
	)
	if disabled := eval[bool](t, ctx, "document.querySelector('#item-main fieldset').disabled"); !disabled {
		t.Error("viewer's item fields are editable")
	}
	if n := eval[int](t, ctx, "document.querySelectorAll('#item-main .moves, #comment').length"); n != 0 {
		t.Errorf("viewer's item page has %d move or comment controls", n)
	}
}

func TestLiveUpdates(t *testing.T) {
	e := start(t)
	first := e.ingest(t, newAlert("defender", "alert-1", "Suspicious PowerShell on vm-web-01", alert.SeverityHigh))[0]
	ctx := browser(t, 1280, 800)
	e.signIn(t, ctx, users[auth.RoleResponder])
	within(t, ctx, 10*time.Second, "live stream open", chromedp.WaitVisible(chromedp.CSS("#live.on")))
	// A marker that a reload would wipe.
	eval[any](t, ctx, "window.__noReload = 42")

	// A new alert arrives: its card appears.
	second := e.ingest(t, newAlert("defender", "alert-2", "Brute force against vm-db-02", alert.SeverityMedium))[0]
	within(t, ctx, 15*time.Second, "new card appears", cardIn(second, "New"))
	if got := text(t, ctx, `[data-count="New"]`); got != "2" {
		t.Errorf("New count = %q, want 2", got)
	}

	// Sync settles the first alert at its source (a Defender alert
	// dismissed in the portal): the item follows, and its card moves.
	if _, moved, err := e.app.Items.Follow(context.Background(), first, "Removed", "defender",
		"alert dismissed in Defender for Cloud", nil); err != nil || !moved {
		t.Fatalf("follow: moved=%v err=%v", moved, err)
	}
	within(t, ctx, 15*time.Second, "card follows the source", cardIn(first, "Removed"))
	if got := eval[int](t, ctx, "window.__noReload || 0"); got != 42 {
		t.Error("the page reloaded; live updates must not reload it")
	}
	shot(t, ctx, "live-board")
}

func TestScreenshots(t *testing.T) {
	e := start(t)
	ids := seed(t, e)
	ctx := browser(t, 1280, 800)
	e.signIn(t, ctx, users[auth.RoleAdmin])
	shot(t, ctx, "board")

	within(t, ctx, 20*time.Second, "item page",
		chromedp.Navigate(fmt.Sprintf("%s/items/%d", e.base, ids[0])),
		chromedp.WaitVisible(chromedp.ID("h-timeline")),
	)
	shot(t, ctx, "item-page")
	fullShot(t, ctx, "item-page-full")
	for _, p := range []string{"triage", "admin/process", "admin/connectors", "admin/users"} {
		within(t, ctx, 20*time.Second, p, chromedp.Navigate(e.base+"/"+p), chromedp.WaitVisible(chromedp.CSS("main h1")))
		shot(t, ctx, strings.ReplaceAll(p, "/", "-"))
	}

	// A phone.
	phone := browser(t, 1280, 800)
	within(t, phone, 10*time.Second, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	e.signIn(t, phone, users[auth.RoleResponder])
	if w := eval[int](t, phone, "document.documentElement.scrollWidth"); w > 400 {
		t.Errorf("the board is %dpx wide on a 390px phone; the columns should scroll inside it", w)
	}
	shot(t, phone, "board-phone")
}

// seed fills the board as a morning of alerts would.
func seed(t *testing.T, e *env) []int64 {
	t.Helper()
	alerts := []alert.Alert{
		newAlert("sentinel", "s-1", "Multistage attack: credential theft then mass download", alert.SeverityHigh,
			alert.Entity{Kind: alert.EntityAccount, Value: "eve@contoso.com"}, alert.Entity{Kind: alert.EntityIP, Value: "198.51.100.23"}),
		newAlert("defender", "d-1", "Suspicious PowerShell command line on vm-web-01", alert.SeverityHigh,
			alert.Entity{Kind: alert.EntityHost, Value: "vm-web-01"}),
		newAlert("defender", "d-2", "Brute force attempt against SQL on vm-db-02", alert.SeverityMedium),
		newAlert("graph", "g-1", "Impossible travel activity for alice@contoso.com", alert.SeverityMedium),
		newAlert("alertmanager", "", "TLS certificate for vpn.contoso.com expires in 5 days", alert.SeverityLow),
		newAlert("defender", "d-3", "Storage account exposed to the internet", alert.SeverityCritical),
		newAlert("sentinel", "s-2", "Rare Azure AD sign-in from a TOR exit node", alert.SeverityHigh),
		newAlert("defender", "d-4", "Anomalous key vault access by an unknown app", alert.SeverityMedium),
		newAlert("graph", "g-2", "Malware detected in OneDrive file", alert.SeverityLow),
		newAlert("alertmanager", "", "Failed backups on file-share-03", alert.SeverityInformational),
	}
	alerts[0].Raw = json.RawMessage(`{"id":"s-1","properties":{"incidentUrl":"https://portal.azure.com/#asset/Microsoft_Azure_Security_Insights/Incident/s-1","title":"Multistage attack"}}`)
	alerts[1].Raw = json.RawMessage(`{"name":"d-1","properties":{"alertUri":"https://portal.azure.com/#blade/Microsoft_Azure_Security/AlertBlade/alertId/d-1","alertDisplayName":"Suspicious PowerShell"}}`)
	ids := e.ingest(t, alerts...)
	ctx := context.Background()
	// A write-back waiting on Sentinel, as sync leaves one while Azure
	// throttles.
	if _, err := e.app.DB.Enqueue(ctx, []outbox.Message{{WorkItemID: ids[0], Target: "sentinel", Op: "incident.comment",
		Resource: "/subscriptions/…/incidents/s-1", Payload: json.RawMessage(`{}`), IdemKey: "seed-comment-1"}}, nil); err != nil {
		t.Fatal(err)
	}
	resp := auth.Actor{Kind: "user", Name: users[auth.RoleResponder], Role: auth.RoleResponder}
	walk := func(id int64, reason string, states ...string) {
		for _, s := range states {
			r := ""
			if s == "Closed" || s == "Removed" {
				r = reason
			}
			if _, err := e.app.Items.Transition(ctx, resp, id, s, r, 0); err != nil {
				t.Fatalf("move %d to %s: %v", id, s, err)
			}
		}
	}
	walk(ids[0], "", "Approved", "Active")
	walk(ids[1], "", "Approved", "Active", "Verification")
	walk(ids[2], "", "Approved")
	walk(ids[3], "benign: travel confirmed with the user", "Removed")
	walk(ids[5], "true positive: public access disabled", "Approved", "Active", "Verification", "Closed")
	tags := []string{"exfiltration", "insider"}
	who := users[auth.RoleResponder]
	if _, err := e.app.Items.Update(ctx, resp, ids[0], patch(&who, &tags), 0); err != nil {
		t.Fatal(err)
	}
	e.app.Items.Comment(ctx, resp, ids[0], "Eve's badge was used at the same time in Lisbon: credentials are stolen. Resetting.")
	e.app.Items.AddTask(ctx, resp, ids[0], "Reset Eve's password and revoke sessions")
	e.app.Items.AddTask(ctx, resp, ids[0], "Review the downloaded files with legal")
	ts, _ := e.app.Items.Tasks(ctx, resp, ids[0])
	done := true
	e.app.Items.UpdateTask(ctx, resp, ids[0], ts[0].ID, nil, &done)
	return ids
}

func patch(assignee *string, tags *[]string) workitem.Patch {
	return workitem.Patch{Assignee: assignee, Tags: tags}
}

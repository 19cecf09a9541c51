package browser

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
)

// handDrag drags the card of item id onto the column of state as a
// person's hand does: it presses the mouse over the card, slides it
// sideways at the card's height across every column in between, lingering
// over each as a hand does, and releases it over the target column. It
// sends Input.dispatchMouseEvent press, moves and release, nothing else.
func handDrag(t *testing.T, ctx context.Context, id int64, state string) {
	t.Helper()
	pts := eval[[]float64](t, ctx, fmt.Sprintf(`(() => {
		const a = document.querySelector("#card-%d .card-meta .id").getBoundingClientRect();
		const b = document.querySelector('.column[data-state=%q] .cards').getBoundingClientRect();
		return [a.x + a.width/2, a.y + a.height/2, b.x + b.width/2];
	})()`, id, state))
	x0, y, x1 := pts[0], pts[1], pts[2]
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x0, y),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, x0, y, chromedp.ButtonLeft, chromedp.ClickCount(1)),
	}
	// Steps of about 20px, 30ms apart: Sortable looks for the column
	// under the pointer every 50ms or so, so it sees each column crossed.
	n := int(abs(x1-x0)/20) + 4
	for i := 1; i <= n; i++ {
		x := x0 + (x1-x0)*float64(i)/float64(n)
		steps = append(steps, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, y, chromedp.ButtonLeft),
			chromedp.Sleep(30*time.Millisecond))
	}
	steps = append(steps, chromedp.Sleep(250*time.Millisecond),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, x1, y, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	within(t, ctx, 30*time.Second, fmt.Sprintf("drag #%d to %s", id, state), steps...)
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// defenderAlert is a Defender for Cloud alert as the poller stores it,
// with its ARM id, so that moving its item to Active queues a real
// write-back (alert.inProgress).
func defenderAlert(name, title string) alert.Alert {
	a := newAlert("defender", name, title, alert.SeverityHigh, alert.Entity{Kind: alert.EntityHost, Value: "vm-" + name})
	a.Raw = []byte(fmt.Sprintf(`{"id":"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-prod/providers/Microsoft.Security/locations/westeurope/alerts/%s","name":%q}`, name, name))
	return a
}

// TestDragDropsWhereReleased drags cards with real mouse events across
// the columns in between. A drop lands on the column it was released
// over, or nowhere with a visible refusal; it never lands on a column the
// pointer only crossed (a New card dropped on Active once landed in
// Approved, an Approved card dropped on Verification in Active, with
// write-backs queued to Defender).
func TestDragDropsWhereReleased(t *testing.T) {
	e := start(t)
	ids := e.ingest(t, defenderAlert("d-new", "Suspicious PowerShell on vm-web-01"),
		defenderAlert("d-appr", "Brute force against vm-db-02"))
	fresh, approved := ids[0], ids[1]
	resp := auth.Actor{Kind: "user", Name: users[auth.RoleResponder], Role: auth.RoleResponder}
	if _, err := e.app.Items.Transition(context.Background(), resp, approved, "Approved", "", 0); err != nil {
		t.Fatal(err)
	}
	ctx := browser(t, 1400, 900)
	e.signIn(t, ctx, users[auth.RoleResponder])
	within(t, ctx, 10*time.Second, "cards on the board", cardIn(fresh, "New"), cardIn(approved, "Approved"))

	refused := func(id int64, from, to, allowed string) {
		t.Helper()
		before := e.item(t, id)
		queued := e.outbox(t, id)
		eval[any](t, ctx, `document.getElementById("toast").hidden = true`)
		handDrag(t, ctx, id, to)
		within(t, ctx, 10*time.Second, "refusal shown", chromedp.WaitVisible(chromedp.CSS("#toast.bad")), cardIn(id, from))
		msg := text(t, ctx, "#toast")
		for _, want := range []string{fmt.Sprintf("cannot move from %s to %s", from, to), "allowed: " + allowed} {
			if !strings.Contains(msg, want) {
				t.Errorf("drop of #%d on %s: message %q lacks %q", id, to, msg, want)
			}
		}
		// Give a stray move time to land before looking.
		time.Sleep(500 * time.Millisecond)
		if n := eval[int](t, ctx, fmt.Sprintf(`document.querySelectorAll('.cards:not([data-state=%q]) #card-%d').length`, from, id)); n != 0 {
			t.Errorf("after the refused drop on %s, #%d shows in another column than %s", to, id, from)
		}
		after := e.item(t, id)
		if after.State != from || after.Rev != before.Rev {
			t.Errorf("refused drop on %s: item is %s at rev %d, want %s at rev %d", to, after.State, after.Rev, from, before.Rev)
		}
		if got := e.outbox(t, id); got != queued {
			t.Errorf("refused drop on %s queued %d write-backs", to, got-queued)
		}
	}
	landed := func(id int64, to string, writes int) {
		t.Helper()
		queued := e.outbox(t, id)
		handDrag(t, ctx, id, to)
		within(t, ctx, 10*time.Second, "card lands on "+to, cardIn(id, to))
		if st := e.item(t, id).State; st != to {
			t.Errorf("dropped #%d on %s: item is %s", id, to, st)
		}
		if got := e.outbox(t, id) - queued; got != writes {
			t.Errorf("drop of #%d on %s queued %d write-backs, want %d", id, to, got, writes)
		}
	}

	refused(fresh, "New", "Active", "Approved, Removed")
	refused(approved, "Approved", "Verification", "Active")
	shot(t, ctx, "drag-refused")
	landed(fresh, "Approved", 0)
	landed(approved, "Active", 1) // alert.inProgress to Defender
}

// outbox counts the write-backs queued for item id.
func (e *env) outbox(t *testing.T, id int64) int {
	t.Helper()
	msgs, err := e.app.DB.ListOutbox(context.Background(), "", id, 0, 1000)
	if err != nil {
		t.Fatalf("outbox of %d: %v", id, err)
	}
	return len(msgs)
}

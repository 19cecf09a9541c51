package browser

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vigil-soc/vigil/internal/alert"
	"github.com/vigil-soc/vigil/internal/auth"
)

// longARM is a Defender for Cloud alert's ARM id as the API gives it: some
// 200 characters without a space.
const longARM = "/subscriptions/3f2504e0-4f89-41d3-9a0c-0305e82c3301/resourceGroups/rg-production-westeurope-workloads/" +
	"providers/Microsoft.Security/locations/westeurope/alerts/2517538088322968242_7d3a8e6c-9c2f-4b5e-8a1d-6f0e2b4c9d71"

// TestItemPageOnAPhone opens an item full of long ids on a 390px phone:
// nothing may push the page sideways, with every fold opened, and the
// summary comes before the timeline.
func TestItemPageOnAPhone(t *testing.T) {
	e := start(t)
	a := newAlert("defender", "2517538088322968242_7d3a8e6c-9c2f-4b5e-8a1d-6f0e2b4c9d71",
		"Suspicious PowerShell command line on vm-web-01", alert.SeverityHigh,
		alert.Entity{Kind: alert.EntityHost, Value: "vm-web-01"},
		alert.Entity{Kind: alert.EntityCloudResource, Value: "/subscriptions/3f2504e0-4f89-41d3-9a0c-0305e82c3301/resourceGroups/" +
			"rg-production-westeurope-workloads/providers/Microsoft.Compute/virtualMachines/vm-web-01-with-a-rather-long-name"})
	a.Description = "A suspicious PowerShell activity was observed on the machine. This activity could indicate a download cradle."
	a.Raw = []byte(fmt.Sprintf(`{"id":%q,"name":"2517538088322968242_7d3a8e6c","properties":{"intent":"Execution",`+
		`"alertUri":"https://portal.azure.com/#blade/Microsoft_Azure_Security_AzureDefenderForData/AlertBlade/alertId/2517538088322968242_7d3a8e6c-9c2f-4b5e-8a1d-6f0e2b4c9d71/subscriptionId/3f2504e0-4f89-41d3-9a0c-0305e82c3301/resourceGroup/rg-production-westeurope-workloads/referencedFrom/alertDeepLink/location/westeurope"}}`, longARM))
	id := e.ingest(t, a)[0]
	resp := auth.Actor{Kind: "user", Name: users[auth.RoleResponder], Role: auth.RoleResponder}
	for _, to := range []string{"Approved", "Active"} { // Active queues alert.inProgress on the ARM id
		if _, err := e.app.Items.Transition(context.Background(), resp, id, to, "", 0); err != nil {
			t.Fatal(err)
		}
	}
	if e.outbox(t, id) == 0 {
		t.Fatal("moving to Active queued no write-back; the page would not show the ARM id")
	}

	ctx := browser(t, 1280, 800)
	within(t, ctx, 10*time.Second, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	e.signIn(t, ctx, users[auth.RoleResponder])
	for _, path := range []string{fmt.Sprintf("/items/%d", id), fmt.Sprintf("/items/%d?timeline=all", id)} {
		within(t, ctx, 20*time.Second, "open "+path, chromedp.Navigate(e.base+path), chromedp.WaitVisible(chromedp.ID("h-timeline")))
		if !strings.Contains(eval[string](t, ctx, "document.getElementById('item-main').textContent"), longARM[len(longARM)-40:]) {
			t.Errorf("%s does not show the ARM id", path)
		}
		eval[any](t, ctx, "document.querySelectorAll('details').forEach(d => d.open = true)")
		if w := eval[int](t, ctx, "document.documentElement.scrollWidth"); w > 390 {
			wide := eval[string](t, ctx, `Array.from(document.querySelectorAll("#item-main *")).filter(el => el.getBoundingClientRect().right > 391).slice(-3).map(el => el.tagName + "." + el.className).join(", ")`)
			shot(t, ctx, "item-phone-overflow")
			t.Errorf("%s is %dpx wide on a 390px phone; widest: %s", path, w, wide)
		}
	}
	order := eval[[]float64](t, ctx, `["h-summary", "h-timeline"].map(id => document.getElementById(id).getBoundingClientRect().top)`)
	if order[0] >= order[1] {
		t.Errorf("the summary (at %vpx) is not above the timeline (at %vpx)", order[0], order[1])
	}
	if got := text(t, ctx, ".summary .chips"); got != "Execution" {
		t.Errorf("tactics = %q, want Execution", got)
	}
	eval[any](t, ctx, "document.querySelectorAll('details').forEach(d => d.open = false); scrollTo(0, 0)")
	shot(t, ctx, "item-phone")
}

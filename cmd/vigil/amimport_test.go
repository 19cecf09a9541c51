package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/app"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/paging"
)

// TestImportAlertmanagerConfig: `vigil import alertmanager-config` maps the
// alertmanager.yml that amtool check-config accepts (test/testdata) to
// services in routing order and an inhibit rule, reports what it could not
// map, and with --apply stores the services once their policy exists.
func TestImportAlertmanagerConfig(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	file := "../../test/testdata/alertmanager.yml"
	if err := run(context.Background(), []string{"import", "alertmanager-config", file}, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	for _, want := range []string{"services:", "name: team-X-pager", "inhibit_rules:", "labels.alertname"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("definitions lack %q:\n%s", want, out.String())
		}
	}
	for _, want := range []string{"Imported 8 service(s), 1 inhibit rule(s)", "Not mapped", "templates[0]"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, errOut.String())
		}
	}

	// --apply needs the policy the services page.
	if _, err := runCLI(t, dir, "import", "alertmanager-config", file, "--policy", "oncall", "--apply"); err == nil || !strings.Contains(err.Error(), "policy") {
		t.Fatalf("apply without the policy: %v", err)
	}
	cfg, err := config.Load("", nil, map[string]any{"data": dir})
	if err != nil {
		t.Fatal(err)
	}
	db, err := app.OpenStore(context.Background(), cfg, app.NewLogger(cfg, &bytes.Buffer{}), clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := json.Marshal(map[string]any{"name": "oncall", "steps": []map[string]any{{"delay_minutes": 0, "targets": []map[string]any{{"type": "user", "id": "ana@example.com"}}}}})
	if _, _, err := db.PutOnCallDef(context.Background(), paging.KindPolicy, "oncall", pol, "test"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := runCLI(t, dir, "import", "alertmanager-config", file, "--policy", "oncall", "--apply"); err != nil {
		t.Fatal(err)
	}
	db, err = app.OpenStore(context.Background(), cfg, app.NewLogger(cfg, &bytes.Buffer{}), clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	defs, err := db.ListOnCallDefs(context.Background(), paging.KindService)
	if err != nil || len(defs) != 8 {
		t.Fatalf("stored %d services, want 8 (%v)", len(defs), err)
	}
}

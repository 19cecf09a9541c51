package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/goccy/go-yaml"

	"github.com/vigil-soc/vigil/internal/app"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/automation"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/rules"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/yamlfile"
)

const rulesUsage = "usage: vigil rules export [-o FILE] | vigil rules apply -f FILE [--dry-run]" +
	" | vigil rules import-sentinel [--from FILE] [--workspace NAME] [--enable] [--dry-run] (each with --config FILE, --data DIR or --dsn DSN)"

// RulesFile is the YAML document `vigil rules export` writes and
// `vigil rules apply` reads: the rules in run order.
type RulesFile struct {
	Rules []automation.Definition `yaml:"rules"`
}

// parseRulesFile reads a rules file strictly: a misspelt key
// ("condtion") must fail, not drop the condition.
func parseRulesFile(raw []byte) (RulesFile, error) {
	var f RulesFile
	if err := yamlfile.Strict(raw, &f); err != nil {
		return RulesFile{}, err
	}
	return f, nil
}

// rulesCommand manages automation rules as YAML files, for teams that
// keep them in git, and imports Sentinel's.
func rulesCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(rulesUsage)
	}
	switch args[0] {
	case "export":
		return rulesExport(ctx, args[1:], stdout, stderr)
	case "apply":
		return rulesApply(ctx, args[1:], stdout, stderr)
	case "import-sentinel":
		return rulesImportSentinel(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("unknown rules command %q; %s", args[0], rulesUsage)
}

// rulesEnv is what every rules command opens: the store and the rules
// service over it, with the configured process so that a move to an
// unknown state fails here as it does in the API.
type rulesEnv struct {
	cfg   config.Config
	db    *store.DB
	svc   *rules.Service
	actor auth.Actor
}

func openRules(ctx context.Context, load func() (config.Config, error), stderr io.Writer) (*rulesEnv, error) {
	cfg, err := load()
	if err != nil {
		return nil, err
	}
	proc, err := app.LoadProcess(cfg)
	if err != nil {
		return nil, err
	}
	log := app.NewLogger(cfg, stderr)
	db, err := app.OpenStore(ctx, cfg, log, clock.Real{})
	if err != nil {
		return nil, err
	}
	return &rulesEnv{cfg: cfg, db: db, svc: rules.New(db, proc, clock.Real{}, log), actor: rulesActor()}, nil
}

// rulesActor names the person at the keyboard in the rule's history
// ("cli:alice"), where the audit log's plain "cli" would not say who.
func rulesActor() auth.Actor {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "unknown"
	}
	return auth.Actor{Kind: "user", Name: cliActor + ":" + name, Role: auth.RoleAdmin}
}

func rulesExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rules export", flag.ContinueOnError)
	load := configFlags(fs)
	out := fs.String("o", "", "write to `file` instead of standard output")
	if err := parse(fs, args); err != nil {
		return err
	}
	env, err := openRules(ctx, load, stderr)
	if err != nil {
		return err
	}
	defer env.db.Close()
	stored, err := env.svc.List(ctx, env.actor)
	if err != nil {
		return err
	}
	f := RulesFile{Rules: make([]automation.Definition, len(stored))}
	for i, r := range stored { // ListRules answers in run order
		f.Rules[i] = r.Definition
	}
	b, err := yaml.MarshalWithOptions(f, yaml.IndentSequence(true), yaml.UseLiteralStyleIfMultiline(true))
	if err != nil {
		return fmt.Errorf("export rules: %w", err)
	}
	if *out == "" {
		_, err = stdout.Write(b)
		return err
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		return fmt.Errorf("export rules: %w", err)
	}
	fmt.Fprintf(stderr, "exported %d rules to %s\n", len(f.Rules), *out)
	return nil
}

func rulesApply(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rules apply", flag.ContinueOnError)
	load := configFlags(fs)
	file := fs.String("f", "", "the rules YAML `file`, as rules export writes it (required)")
	dry := fs.Bool("dry-run", false, "print the diff and save nothing")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("-f is required")
	}
	raw, err := os.ReadFile(*file)
	if err != nil {
		return fmt.Errorf("read rules: %w", err)
	}
	f, err := parseRulesFile(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	env, err := openRules(ctx, load, stderr)
	if err != nil {
		return err
	}
	defer env.db.Close()
	return applyDefinitions(ctx, env, f.Rules, *dry, stdout)
}

// change is one rule of a file against the store.
type change struct {
	id     int64 // 0: new
	def    automation.Definition
	fields []string // what changed, "field: old → new"
}

// applyDefinitions checks every definition first, so that one invalid
// rule leaves the store as it was, then prints the diff and, unless dry,
// saves the new and changed rules.
func applyDefinitions(ctx context.Context, env *rulesEnv, defs []automation.Definition, dry bool, stdout io.Writer) error {
	stored, err := env.svc.List(ctx, env.actor)
	if err != nil {
		return err
	}
	byName := map[string]store.StoredRule{}
	for _, r := range stored {
		if _, dup := byName[r.Name]; !dup { // the first in run order wins
			byName[r.Name] = r
		}
	}
	seen := map[string]bool{}
	for i := range defs {
		rebuildCondition(&defs[i], byName)
		if err := env.svc.Check(&defs[i]); err != nil {
			name := defs[i].Name
			if name == "" {
				name = fmt.Sprintf("rules[%d]", i)
			}
			return fmt.Errorf("invalid rule %q: %w", name, err)
		}
		if seen[defs[i].Name] {
			// Rules are matched by name: two with one name cannot both apply.
			return fmt.Errorf("invalid rule %q: name: used twice in the file", defs[i].Name)
		}
		seen[defs[i].Name] = true
	}
	var changes []change
	for _, d := range defs {
		old, ok := byName[d.Name]
		if !ok {
			fmt.Fprintf(stdout, "+ %s\n", d.Name)
			changes = append(changes, change{def: d})
			continue
		}
		diff := diffDefinitions(old.Definition, d)
		if len(diff) == 0 {
			fmt.Fprintf(stdout, "= %s\n", d.Name)
			continue
		}
		fmt.Fprintf(stdout, "~ %s\n", d.Name)
		for _, l := range diff {
			fmt.Fprintf(stdout, "    %s\n", l)
		}
		changes = append(changes, change{id: old.ID, def: d, fields: diff})
	}
	for _, r := range stored {
		if !seen[r.Name] {
			fmt.Fprintf(stdout, "? %s (not in file; left alone)\n", r.Name)
		}
	}
	if dry {
		fmt.Fprintf(stdout, "dry run: %d to save, nothing written\n", len(changes))
		return nil
	}
	for i, c := range changes {
		r, err := env.svc.Save(ctx, env.actor, c.id, c.def)
		if err != nil {
			return fmt.Errorf("save rule %q (%d of %d saved): %w", c.def.Name, i, len(changes), err)
		}
		fmt.Fprintf(stdout, "saved %s (id %d, version %d)\n", r.Name, r.ID, r.Version)
	}
	fmt.Fprintf(stdout, "%d saved\n", len(changes))
	return nil
}

// rebuildCondition drops a builder rule's condition when the file changed
// the builder rows but left the condition as the builder last wrote it
// (an export holds both), so that Normalize writes it anew from the rows:
// otherwise editing the rows in git would silently change nothing.
func rebuildCondition(d *automation.Definition, byName map[string]store.StoredRule) {
	old, ok := byName[strings.TrimSpace(d.Name)]
	if !ok || d.Builder == nil || old.Builder == nil {
		return
	}
	if strings.TrimSpace(d.Condition) == old.Condition && showValue(d.Builder) != showValue(old.Builder) {
		d.Condition = ""
	}
}

// diffDefinitions lists the fields that differ, each as "field: old → new".
// Values are compared as JSON so that nil and empty lists are equal, as
// they are to the engine.
func diffDefinitions(old, cur automation.Definition) []string {
	var out []string
	cmp := func(field string, a, b any) {
		sa, sb := showValue(a), showValue(b)
		if sa != sb {
			out = append(out, fmt.Sprintf("%s: %s → %s", field, sa, sb))
		}
	}
	cmp("description", old.Description, cur.Description)
	cmp("enabled", old.Enabled, cur.Enabled)
	cmp("order", old.Order, cur.Order)
	cmp("triggers", old.Triggers, cur.Triggers)
	cmp("sources", old.Sources, cur.Sources)
	cmp("condition", old.Condition, cur.Condition)
	cmp("builder", old.Builder, cur.Builder)
	cmp("stop", old.Stop, cur.Stop)
	cmp("expires_at", old.ExpiresAt, cur.ExpiresAt)
	if showValue(old.Actions) != showValue(cur.Actions) {
		// A whole list of actions on one line would be unreadable.
		out = append(out, fmt.Sprintf("actions: %s → %s", actionsSummary(old.Actions), actionsSummary(cur.Actions)))
	}
	return out
}

func showValue(v any) string {
	switch x := v.(type) {
	case []string:
		if len(x) == 0 {
			return "[]"
		}
	case []automation.ActionSpec:
		if len(x) == 0 {
			return "[]"
		}
	case *automation.Builder:
		if x == nil {
			return "none"
		}
	case *time.Time:
		if x == nil {
			return "never"
		}
		return x.UTC().Format(time.RFC3339)
	case string:
		if x == "" {
			return `""`
		}
		return fmt.Sprintf("%q", x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func actionsSummary(as []automation.ActionSpec) string {
	if len(as) == 0 {
		return "[]"
	}
	parts := make([]string, len(as))
	for i, a := range as {
		b, _ := json.Marshal(a)
		parts[i] = string(b)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// armAPIVersion is the Security Insights version whose automationRules
// contract the simulator implements.
const armAPIVersion = "2025-07-01-preview"

// sentinelPrefix marks imported rules, so that they do not clash with
// rules of the same name written in vigil.
const sentinelPrefix = "sentinel: "

func rulesImportSentinel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rules import-sentinel", flag.ContinueOnError)
	load := configFlags(fs)
	from := fs.String("from", "", "read the ARM list JSON from this `file` instead of the workspace")
	wsName := fs.String("workspace", "", "the sync.sentinel workspace `name` to read, when the config names several")
	enable := fs.Bool("enable", false, "keep the rules enabled as they are in Sentinel (default: imported disabled)")
	dry := fs.Bool("dry-run", false, "print what would be imported and save nothing")
	if err := parse(fs, args); err != nil {
		return err
	}
	env, err := openRules(ctx, load, stderr)
	if err != nil {
		return err
	}
	defer env.db.Close()
	var raw []byte
	if *from != "" {
		if raw, err = os.ReadFile(*from); err != nil {
			return fmt.Errorf("read Sentinel rules: %w", err)
		}
	} else if raw, err = readSentinelRules(ctx, env.cfg.Sync, *wsName); err != nil {
		return err
	}
	res, err := automation.FromSentinel(raw)
	if err != nil {
		return err
	}
	for i := range res.Rules {
		d := &res.Rules[i]
		d.Name = sentinelPrefix + d.Name
		// Imported rules start disabled: a team previews them before
		// they act on its alerts.
		d.Enabled = d.Enabled && *enable
	}
	fmt.Fprintf(stdout, "%d convertible, %d skipped\n", len(res.Rules), len(res.Skipped))
	for _, s := range res.Skipped {
		fmt.Fprintf(stdout, "skipped %s: %s\n", s.Name, s.Reason)
	}
	if len(res.Rules) == 0 {
		return nil
	}
	return applyDefinitions(ctx, env, res.Rules, *dry, stdout)
}

// readSentinelRules lists the workspace's automation rules through ARM,
// signed in as the sync's Entra ID app, following nextLink.
func readSentinelRules(ctx context.Context, sc config.Sync, wsName string) ([]byte, error) {
	var ws *config.SentinelWorkspace
	for i := range sc.Sentinel {
		if wsName == "" || strings.EqualFold(sc.Sentinel[i].Workspace, wsName) {
			if ws != nil {
				return nil, errors.New("the config names several Sentinel workspaces: choose one with --workspace")
			}
			ws = &sc.Sentinel[i]
		}
	}
	if ws == nil {
		return nil, errors.New("no Sentinel workspace in the config (sync.sentinel); name one, or use --from FILE")
	}
	az := sc.Azure
	hc, err := caClient(az.CAFile)
	if err != nil {
		return nil, err
	}
	arm := strings.TrimRight(az.ARMEndpoint, "/")
	if arm == "" {
		arm = "https://management.azure.com"
	}
	opts := azcore.ClientOptions{Transport: hc}
	if az.AuthorityHost != "" {
		opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: az.AuthorityHost}
	}
	cred, err := azidentity.NewClientSecretCredential(az.TenantID, az.ClientID, az.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: az.AuthorityHost != ""})
	if err != nil {
		return nil, fmt.Errorf("sentinel credential: %w", err)
	}
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
	if err != nil {
		return nil, fmt.Errorf("sentinel sign-in: %w", err)
	}
	next := fmt.Sprintf("%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.OperationalInsights/workspaces/%s/providers/Microsoft.SecurityInsights/automationRules?api-version=%s",
		arm, url.PathEscape(ws.SubscriptionID), url.PathEscape(ws.ResourceGroup), url.PathEscape(ws.Workspace), armAPIVersion)
	var all []json.RawMessage
	for pages := 0; next != ""; pages++ {
		if pages == 100 {
			return nil, errors.New("sentinel automation rules: more than 100 pages")
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		resp, err := hc.Do(req)
		if err != nil {
			return nil, fmt.Errorf("sentinel automation rules: %w", err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("sentinel automation rules: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("sentinel automation rules: %s: %s", resp.Status, bytes.TrimSpace(body[:min(len(body), 500)]))
		}
		var page struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"nextLink"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("sentinel automation rules: %w", err)
		}
		all = append(all, page.Value...)
		next = page.NextLink
	}
	return json.Marshal(map[string]any{"value": slices.Clip(all)})
}

// caClient is an HTTP client trusting caFile too (the simulator's CA), as
// the sync's connectors do.
func caClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("sync.azure.ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("sync.azure.ca_file %s: no certificate found", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}, nil
}

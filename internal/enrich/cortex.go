package enrich

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

// CortexConfig runs one Cortex analyzer, unchanged, through the job
// directory contract.
type CortexConfig struct {
	Name      string         // e.g. "AbuseIPDB_1_0"
	Command   []string       // e.g. ["python3", "/opt/Cortex-Analyzers/analyzers/AbuseIPDB/abuseipdb.py"]; use absolute paths, the process inherits vigil's working directory
	DataTypes []string       // the analyzer's dataTypeList
	Config    map[string]any // the analyzer's "config" object (its configurationItems, keys included)
	WorkDir   string         // where job directories are made; default os.TempDir()
	// Dir is the process's working directory; empty inherits vigil's.
	// (Cortex itself runs a command in its script's grandparent directory,
	// the analyzers' root.)
	Dir     string
	Timeout time.Duration // default 5 minutes
	Now     func() time.Time
}

// Cortex is a provider running a Cortex analyzer as a child process.
type Cortex struct {
	cfg CortexConfig
	now func() time.Time
}

// cortexOutputCap bounds what is kept of an analyzer's stdout and stderr.
const cortexOutputCap = 64 << 10

// NewCortex validates cfg and returns the provider.
func NewCortex(cfg CortexConfig) (*Cortex, error) {
	if strings.TrimSpace(cfg.Name) == "" {
		return nil, validation.NewFieldError("name", "is required")
	}
	if len(cfg.Command) == 0 || strings.TrimSpace(cfg.Command[0]) == "" {
		return nil, validation.NewFieldError("command", "is required")
	}
	if len(cfg.DataTypes) == 0 {
		return nil, validation.NewFieldError("dataTypes", "at least one data type is required")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Minute
	}
	if cfg.Timeout < 0 {
		return nil, validation.NewFieldError("timeout", "must be positive")
	}
	return &Cortex{cfg: cfg, now: nowFunc(cfg.Now)}, nil
}

// Name implements Provider.
func (c *Cortex) Name() string { return c.cfg.Name }

// Supports implements Provider.
func (c *Cortex) Supports(dataType string) bool { return slices.Contains(c.cfg.DataTypes, dataType) }

// cortexInput is <job>/input/input.json as Cortex 3 writes it: the
// observable, its TLP and PAP, and the analyzer's config merged with
// Cortex's own keys (check_tlp, max_tlp, …), which cortexutils reads.
type cortexInput struct {
	DataType   string         `json:"dataType"`
	Data       string         `json:"data"`
	TLP        int            `json:"tlp"`
	PAP        int            `json:"pap"`
	Message    string         `json:"message"`
	Parameters map[string]any `json:"parameters"`
	Config     map[string]any `json:"config"`
}

func (c *Cortex) input(req Request) cortexInput {
	// TLP and PAP are AMBER (2): vigil has no per-observable marking, and
	// AMBER is Cortex's default. TLP/PAP checks are off unless the config
	// turns them on.
	cfg := map[string]any{
		"check_tlp": false, "max_tlp": 2, "check_pap": false, "max_pap": 2,
		"auto_extract_artifacts": false,
		"jobTimeout":             int(c.cfg.Timeout / time.Minute),
	}
	for k, v := range c.cfg.Config {
		cfg[k] = v
	}
	// As Cortex does: proxy_http/proxy_https become config.proxy.{http,https}.
	proxy := map[string]any{}
	if p, ok := c.cfg.Config["proxy_http"].(string); ok && p != "" {
		proxy["http"] = p
	}
	if p, ok := c.cfg.Config["proxy_https"].(string); ok && p != "" {
		proxy["https"] = p
	}
	if len(proxy) > 0 {
		cfg["proxy"] = proxy
	}
	return cortexInput{DataType: req.DataType, Data: req.Data, TLP: 2, PAP: 2, Parameters: map[string]any{}, Config: cfg}
}

// Enrich implements Provider: make a job directory, write input.json, run
// the command with the job directory as its last argument, read
// output.json. The job directory is removed afterwards. This follows
// Cortex's process runner (TheHive-Project/Cortex,
// app/org/thp/cortex/services/JobRunnerSrv.scala prepareJobFolder and
// extractReport, ProcessJobRunnerSrv.scala run). A timeout kills the
// analyzer's whole process group and is a plain error wrapping
// context.DeadlineExceeded: a slow analyzer stays slow, so the caller
// decides whether to try again.
func (c *Cortex) Enrich(ctx context.Context, req Request) (Report, error) {
	if !c.Supports(req.DataType) {
		return Report{}, validation.NewFieldError("dataType", "analyzer %s does not support %q", c.cfg.Name, req.DataType)
	}
	job, err := os.MkdirTemp(c.cfg.WorkDir, "cortex-job-")
	if err != nil {
		return Report{}, fmt.Errorf("cortex %s: making job directory: %w", c.cfg.Name, err)
	}
	defer os.RemoveAll(job)
	if err := os.MkdirAll(filepath.Join(job, "input"), 0o700); err != nil {
		return Report{}, fmt.Errorf("cortex %s: %w", c.cfg.Name, err)
	}
	if err := os.MkdirAll(filepath.Join(job, "output"), 0o700); err != nil {
		return Report{}, fmt.Errorf("cortex %s: %w", c.cfg.Name, err)
	}
	in, err := json.Marshal(c.input(req))
	if err != nil {
		return Report{}, fmt.Errorf("cortex %s: encoding input: %w", c.cfg.Name, err)
	}
	// 0600: the config holds the analyzer's API keys.
	if err := os.WriteFile(filepath.Join(job, "input", "input.json"), in, 0o600); err != nil {
		return Report{}, fmt.Errorf("cortex %s: writing input: %w", c.cfg.Name, err)
	}
	// As Cortex does: config.cacerts is written to input/cacerts and named
	// by REQUESTS_CA_BUNDLE, which Python's requests honours.
	var env []string
	if ca, ok := c.cfg.Config["cacerts"].(string); ok && strings.TrimSpace(ca) != "" {
		caFile := filepath.Join(job, "input", "cacerts")
		if err := os.WriteFile(caFile, []byte(ca), 0o600); err != nil {
			return Report{}, fmt.Errorf("cortex %s: writing cacerts: %w", c.cfg.Name, err)
		}
		env = append(os.Environ(), "REQUESTS_CA_BUNDLE="+caFile)
	}

	runCtx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	args := append(slices.Clone(c.cfg.Command[1:]), job)
	cmd := exec.CommandContext(runCtx, c.cfg.Command[0], args...)
	stdout, stderr := &cappedBuffer{max: cortexOutputCap}, &cappedBuffer{max: cortexOutputCap}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Dir, cmd.Env = c.cfg.Dir, env
	setProcessGroup(cmd)
	// WaitDelay: a grandchild holding the pipes open must not hang Wait.
	cmd.WaitDelay = 2 * time.Second
	runErr := cmd.Run()
	secrets := configSecrets(c.cfg.Config)
	if runCtx.Err() != nil {
		if ctx.Err() != nil {
			return Report{}, fmt.Errorf("cortex %s: %w", c.cfg.Name, ctx.Err())
		}
		return Report{}, fmt.Errorf("cortex %s: killed after %s: %w", c.cfg.Name, c.cfg.Timeout, context.DeadlineExceeded)
	}

	out, err := os.ReadFile(filepath.Join(job, "output", "output.json"))
	// An empty file counts as none, as in Cortex's ProcessJobRunnerSrv.
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(bytes.TrimSpace(out)) == 0) {
		msg := strings.TrimSpace(stdout.String())
		if msg == "" {
			msg = strings.TrimSpace(stderr.String())
		}
		if msg == "" && runErr != nil {
			msg = runErr.Error()
		}
		if msg == "" {
			msg = "no output"
		}
		return Report{}, fmt.Errorf("cortex %s: %s", c.cfg.Name, scrub(truncate(msg, 2000), secrets))
	}
	if err != nil {
		return Report{}, fmt.Errorf("cortex %s: reading output: %w", c.cfg.Name, err)
	}
	rep, err := ParseCortexOutput(c.cfg.Name, req, out, c.now())
	if err != nil {
		return Report{}, errors.New(scrub(err.Error(), secrets))
	}
	return rep, nil
}

// configSecrets are the string values of an analyzer config, scrubbed from
// error texts: configs hold keys, and analyzers like to print their input.
func configSecrets(cfg map[string]any) []string {
	var out []string
	for _, v := range cfg {
		if s, ok := v.(string); ok && len(s) >= 8 {
			out = append(out, s)
		}
	}
	return out
}

// cortexOutput is output/output.json.
type cortexOutput struct {
	Success      *bool           `json:"success"`
	ErrorMessage string          `json:"errorMessage"`
	Summary      json.RawMessage `json:"summary"`
	Full         json.RawMessage `json:"full"`
}

// ParseCortexOutput reads an analyzer's output.json. success:false (or a
// missing success, as Cortex reads it) is an error carrying errorMessage.
// Unlike Cortex, a missing or non-object "full" is accepted: the taxonomies
// are what vigil uses. Levels are lower-cased; a level outside
// Cortex's four is kept but ranks as info in Verdict.
func ParseCortexOutput(name string, req Request, body []byte, now time.Time) (Report, error) {
	var out cortexOutput
	if err := json.Unmarshal(body, &out); err != nil {
		return Report{}, fmt.Errorf("cortex %s: decoding output: %w", name, err)
	}
	if out.Success == nil || !*out.Success {
		msg := strings.TrimSpace(out.ErrorMessage)
		if msg == "" {
			msg = "analyzer failed without a message"
		}
		return Report{}, fmt.Errorf("cortex %s: %s", name, truncate(msg, 2000))
	}
	var sum struct {
		Taxonomies []Taxonomy `json:"taxonomies"`
	}
	if len(out.Summary) > 0 && string(out.Summary) != "null" {
		if err := json.Unmarshal(out.Summary, &sum); err != nil {
			return Report{}, fmt.Errorf("cortex %s: decoding summary: %w", name, err)
		}
	}
	for i := range sum.Taxonomies {
		sum.Taxonomies[i].Level = strings.ToLower(strings.TrimSpace(sum.Taxonomies[i].Level))
	}
	rep := Report{Provider: name, Request: req, Taxonomies: sum.Taxonomies, At: now}
	if len(out.Full) > 0 && string(out.Full) != "null" {
		rep.Full = append(json.RawMessage(nil), out.Full...)
	}
	rep.Summary = taxonomySummary(name, req, sum.Taxonomies)
	return rep, nil
}

// taxonomySummary is the comment line for providers without their own:
// "Name: <data> <verdict> (NS:Pred=Value, …)".
func taxonomySummary(name string, req Request, tax []Taxonomy) string {
	r := Report{Taxonomies: tax}
	s := fmt.Sprintf("%s: %s %s", name, req.Data, r.Verdict())
	if len(tax) == 0 {
		return s + " (no findings)"
	}
	parts := make([]string, 0, len(tax))
	for _, t := range tax {
		parts = append(parts, fmt.Sprintf("%s:%s=%s", t.Namespace, t.Predicate, t.Value))
	}
	return s + " (" + truncate(strings.Join(parts, ", "), 300) + ")"
}

// cappedBuffer keeps the first max bytes written and discards the rest,
// never failing the writer (a failing pipe would kill the analyzer).
type cappedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (b *cappedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

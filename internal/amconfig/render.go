package amconfig

import (
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/vigil-soc/vigil/internal/paging"
)

// File is the YAML document Result.YAML writes. vigil's on-call
// definitions are stored as JSON documents, one per PUT
// /api/v1/oncall/{kind}/{name}; each element of Services is exactly such a
// body for kind "services" (the yaml and json field names agree), listed
// in routing order. Policies names the escalation policies they need.
type File struct {
	Policies []string         `yaml:"policies,omitempty"`
	Services []paging.Service `yaml:"services"`
	// Alertmanager is the section of vigil's configuration file that
	// holds the inhibit rules, in alertmanager.yml's syntax.
	Alertmanager *ConfigSection `yaml:"alertmanager,omitempty"`
	Unmapped     []Finding      `yaml:"unmapped,omitempty"`
}

// ConfigSection is vigil's `alertmanager:` configuration section.
type ConfigSection struct {
	InhibitRules []ConfigInhibitRule `yaml:"inhibit_rules"`
}

// ConfigInhibitRule is an inhibit rule as vigil's configuration takes it.
type ConfigInhibitRule struct {
	SourceMatchers []string `yaml:"source_matchers,omitempty"`
	TargetMatchers []string `yaml:"target_matchers"`
	Equal          []string `yaml:"equal,omitempty"`
}

func matcherStrings(ms []Matcher) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.String()
	}
	return out
}

const fileHeader = `# vigil on-call definitions imported from an Alertmanager configuration.
# Each service is the body of PUT /api/v1/oncall/services/{name}; each
# condition leaves out what an earlier Alertmanager route takes, so an
# alert reaches the same services as its receivers. Create the escalation
# policies listed first. Copy the alertmanager: section (the inhibit rules)
# into vigil's configuration file.
`

// YAML renders the result in the shape of vigil's on-call definitions
// (see File), with what could not be mapped at the end.
func (r Result) YAML() ([]byte, error) {
	f := File{Policies: r.Policies, Services: r.Services, Unmapped: r.Unmapped}
	if len(r.Inhibit) > 0 {
		f.Alertmanager = &ConfigSection{}
		for _, ir := range r.Inhibit {
			f.Alertmanager.InhibitRules = append(f.Alertmanager.InhibitRules, ConfigInhibitRule{
				SourceMatchers: matcherStrings(ir.SourceMatchers), TargetMatchers: matcherStrings(ir.TargetMatchers), Equal: ir.Equal})
		}
	}
	if f.Services == nil {
		f.Services = []paging.Service{}
	}
	b, err := yaml.MarshalWithOptions(f, yaml.IndentSequence(true))
	if err != nil {
		return nil, fmt.Errorf("rendering the imported definitions: %w", err)
	}
	return append([]byte(fileHeader), b...), nil
}

// Report is a human summary: what was made, every unmapped item with its
// path, and the notes.
func (r Result) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Imported %d service(s), %d inhibit rule(s); %d item(s) not mapped, %d note(s).\n",
		len(r.Services), len(r.Inhibit), len(r.Unmapped), len(r.Notes))
	if len(r.Services) > 0 {
		b.WriteString("\nServices, in routing order (the first match pages):\n")
		for i, s := range r.Services {
			fmt.Fprintf(&b, "  %d. %s (policy %s)\n     when %s\n", i+1, s.Name, s.Policy, s.Condition)
		}
	}
	if len(r.Policies) > 0 {
		fmt.Fprintf(&b, "\nCreate these escalation policies first: %s\n", strings.Join(r.Policies, ", "))
	}
	section(&b, "Not mapped (decide what to do)", r.Unmapped)
	section(&b, "Notes", r.Notes)
	return b.String()
}

func section(b *strings.Builder, title string, fs []Finding) {
	if len(fs) == 0 {
		return
	}
	fmt.Fprintf(b, "\n%s:\n", title)
	for _, f := range fs {
		fmt.Fprintf(b, "  - %s: %s\n", f.Path, f.What)
	}
}

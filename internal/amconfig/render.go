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
	Inhibit  []InhibitRule    `yaml:"inhibit_rules,omitempty"`
	Unmapped []Finding        `yaml:"unmapped,omitempty"`
}

const fileHeader = `# vigil on-call definitions imported from an Alertmanager configuration.
# Each service is the body of PUT /api/v1/oncall/services/{name}.
# vigil pages the first service whose condition matches: apply them in
# this order. Create the escalation policies listed first.
`

// YAML renders the result in the shape of vigil's on-call definitions
// (see File), with what could not be mapped at the end.
func (r Result) YAML() ([]byte, error) {
	f := File{Policies: r.Policies, Services: r.Services, Inhibit: r.Inhibit, Unmapped: r.Unmapped}
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

package config

import (
	"fmt"

	"github.com/vigil-soc/vigil/internal/amconfig"
)

// Alertmanager configures what vigil does as an Alertmanager: the
// inhibit rules, in alertmanager.yml's own syntax (`vigil import
// alertmanager-config` writes them).
type Alertmanager struct {
	InhibitRules []InhibitRule `koanf:"inhibit_rules"`
}

// InhibitRule is one of Alertmanager's inhibit_rules: a firing alert
// matching SourceMatchers suppresses new alerts matching TargetMatchers
// that have the same values for the Equal labels.
type InhibitRule struct {
	SourceMatchers []string `koanf:"source_matchers"`
	TargetMatchers []string `koanf:"target_matchers"`
	Equal          []string `koanf:"equal"`
	// Parsed is the rule, checked.
	Parsed amconfig.InhibitRule `koanf:"-"`
}

func init() { pagingKeys["alertmanager.inhibit_rules"] = true }

func (a *Alertmanager) resolve() error {
	for i := range a.InhibitRules {
		r := &a.InhibitRules[i]
		key := fmt.Sprintf("alertmanager.inhibit_rules[%d]", i)
		if len(r.TargetMatchers) == 0 {
			return fmt.Errorf("%s.target_matchers: at least one matcher is required", key)
		}
		parse := func(field string, in []string) ([]amconfig.Matcher, error) {
			var out []amconfig.Matcher
			for j, s := range in {
				ms, err := amconfig.ParseMatchers(s)
				if err != nil {
					return nil, fmt.Errorf("%s.%s[%d] %q: %w", key, field, j, s, err)
				}
				out = append(out, ms...)
			}
			return out, nil
		}
		var err error
		if r.Parsed.SourceMatchers, err = parse("source_matchers", r.SourceMatchers); err != nil {
			return err
		}
		if r.Parsed.TargetMatchers, err = parse("target_matchers", r.TargetMatchers); err != nil {
			return err
		}
		r.Parsed.Equal = r.Equal
	}
	return nil
}

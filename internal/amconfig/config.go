package amconfig

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/vigil-soc/vigil/internal/validation"
)

// Config is an alertmanager.yml as read. Every element keeps its YAML path
// (such as "route.routes[1]") so that reports and errors can name it.
type Config struct {
	Global        map[string]any
	Route         *Route
	Receivers     []Receiver
	InhibitRules  []InhibitRuleConfig
	TimeIntervals []TimeInterval // time_intervals and the deprecated top-level mute_time_intervals
	Templates     []string
	// Unknown holds the paths of keys this reader does not know (newer
	// Alertmanager fields, or typos that Alertmanager would refuse).
	Unknown []string
	// Ignored holds the known top-level sections vigil has no use for
	// (tracing, event_recorder).
	Ignored []string
}

// Route is one node of the routing tree, as written (nothing inherited).
type Route struct {
	Path     string
	Receiver string
	// GroupBy is nil when unset (inherited); GroupByAll is `...`.
	GroupBy             []string
	GroupByAll          bool
	Matchers            []Matcher // match, match_re and matchers, in that order
	MuteTimeIntervals   []string
	ActiveTimeIntervals []string
	Continue            bool
	Routes              []*Route
	GroupWait           *time.Duration
	GroupInterval       *time.Duration
	RepeatInterval      *time.Duration
	Labels              map[string]string
}

// Receiver is a named set of notification integrations.
type Receiver struct {
	Path    string
	Name    string
	Configs []ReceiverConfig
}

// ReceiverConfig is one entry of a receiver's *_configs list, kept as a
// map: vigil only reads a few fields of each to suggest a channel.
type ReceiverConfig struct {
	Path   string
	Kind   string // "email" for email_configs, "slack", "webhook", ...
	Fields map[string]any
}

// InhibitRuleConfig is an inhibit rule as written, with the deprecated
// source_match(_re) and target_match(_re) folded into the matchers.
type InhibitRuleConfig struct {
	Path string
	InhibitRule
}

// MaxBytes bounds the file read: real configurations are kilobytes.
const MaxBytes = 4 << 20

var knownTop = []string{"global", "route", "receivers", "inhibit_rules", "time_intervals", "mute_time_intervals", "templates", "tracing", "event_recorder"}

// Parse reads an alertmanager.yml. It refuses what Alertmanager refuses
// (a missing root receiver, a route naming an unknown receiver or time
// interval, duplicate receiver or interval names, bad matchers and
// intervals) with a *validation.FieldError whose Field is the YAML path.
func Parse(b []byte) (cfg *Config, err error) {
	if len(b) > MaxBytes {
		return nil, validation.NewFieldError("(document)", "is %d bytes; at most %d are read", len(b), MaxBytes)
	}
	var doc any
	if err := decodeYAML(b, &doc); err != nil {
		return nil, validation.NewFieldError("(document)", "%s", err)
	}
	if doc == nil {
		return nil, validation.NewFieldError("route", "no routes provided (the file is empty)")
	}
	top, err := asMap(doc, "(document)")
	if err != nil {
		return nil, err
	}
	cfg = &Config{}
	for _, k := range sortedKeys(top) {
		switch {
		case !slices.Contains(knownTop, k):
			cfg.Unknown = append(cfg.Unknown, k)
		case k == "tracing" || k == "event_recorder":
			cfg.Ignored = append(cfg.Ignored, k)
		}
	}
	if g, ok := top["global"]; ok && g != nil {
		if cfg.Global, err = asMap(g, "global"); err != nil {
			return nil, err
		}
	}
	if cfg.Templates, err = stringList(top["templates"], "templates"); err != nil {
		return nil, err
	}
	if err := cfg.parseReceivers(top["receivers"]); err != nil {
		return nil, err
	}
	for _, key := range []string{"mute_time_intervals", "time_intervals"} {
		if err := cfg.parseTimeIntervals(top[key], key); err != nil {
			return nil, err
		}
	}
	if err := cfg.parseInhibitRules(top["inhibit_rules"]); err != nil {
		return nil, err
	}
	if top["route"] == nil {
		return nil, validation.NewFieldError("route", "no routes provided")
	}
	count := 0
	if cfg.Route, err = parseRoute(top["route"], "route", &count); err != nil {
		return nil, err
	}
	return cfg, cfg.check()
}

// decodeYAML decodes into a generic tree. goccy/go-yaml panics on some
// malformed input (see internal/yamlfile); a bad file is an error.
func decodeYAML(b []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed YAML (the YAML decoder failed: %v)", r)
		}
	}()
	return yaml.Unmarshal(b, v)
}

// check is Alertmanager's config validation across sections.
func (c *Config) check() error {
	r := c.Route
	switch {
	case r.Receiver == "":
		return validation.NewFieldError("route.receiver", "root route must specify a default receiver")
	case len(r.Matchers) > 0:
		return validation.NewFieldError("route", "root route must not have any matchers")
	case len(r.MuteTimeIntervals) > 0:
		return validation.NewFieldError("route.mute_time_intervals", "root route must not have any mute time intervals")
	case len(r.ActiveTimeIntervals) > 0:
		return validation.NewFieldError("route.active_time_intervals", "root route must not have any active time intervals")
	case r.Continue:
		return validation.NewFieldError("route.continue", "cannot have continue in root route")
	}
	receivers := map[string]bool{}
	for _, rc := range c.Receivers {
		receivers[rc.Name] = true
	}
	intervals := map[string]bool{}
	for _, ti := range c.TimeIntervals {
		intervals[ti.Name] = true
	}
	return walkRoutes(r, func(n *Route) error {
		if n.Receiver != "" && !receivers[n.Receiver] {
			return validation.NewFieldError(n.Path+".receiver", "undefined receiver %q used in route", n.Receiver)
		}
		for i, name := range n.ActiveTimeIntervals {
			if !intervals[name] {
				return validation.NewFieldError(fmt.Sprintf("%s.active_time_intervals[%d]", n.Path, i), "undefined time interval %q used in route", name)
			}
		}
		for i, name := range n.MuteTimeIntervals {
			if !intervals[name] {
				return validation.NewFieldError(fmt.Sprintf("%s.mute_time_intervals[%d]", n.Path, i), "undefined time interval %q used in route", name)
			}
		}
		return nil
	})
}

func walkRoutes(r *Route, f func(*Route) error) error {
	if err := f(r); err != nil {
		return err
	}
	for _, c := range r.Routes {
		if err := walkRoutes(c, f); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) parseReceivers(v any) error {
	list, err := asList(v, "receivers")
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, e := range list {
		path := fmt.Sprintf("receivers[%d]", i)
		m, err := asMap(e, path)
		if err != nil {
			return err
		}
		rc := Receiver{Path: path}
		if rc.Name, err = str(m["name"], path+".name"); err != nil {
			return err
		}
		if rc.Name == "" {
			return validation.NewFieldError(path+".name", "missing name in receiver")
		}
		if seen[rc.Name] {
			return validation.NewFieldError(path+".name", "notification config name %q is not unique", rc.Name)
		}
		seen[rc.Name] = true
		for _, k := range sortedKeys(m) {
			kind, ok := strings.CutSuffix(k, "_configs")
			if !ok {
				if k != "name" && k != "labels" {
					c.Unknown = append(c.Unknown, path+"."+k)
				}
				continue
			}
			items, err := asList(m[k], path+"."+k)
			if err != nil {
				return err
			}
			for j, it := range items {
				p := fmt.Sprintf("%s.%s[%d]", path, k, j)
				if it == nil {
					return validation.NewFieldError(p, "missing %s config", kind)
				}
				fields, err := asMap(it, p)
				if err != nil {
					return err
				}
				rc.Configs = append(rc.Configs, ReceiverConfig{Path: p, Kind: kind, Fields: fields})
			}
		}
		c.Receivers = append(c.Receivers, rc)
	}
	return nil
}

func (c *Config) parseInhibitRules(v any) error {
	list, err := asList(v, "inhibit_rules")
	if err != nil {
		return err
	}
	for i, e := range list {
		path := fmt.Sprintf("inhibit_rules[%d]", i)
		m, err := asMap(e, path)
		if err != nil {
			return err
		}
		r := InhibitRuleConfig{Path: path}
		for _, k := range sortedKeys(m) {
			p := path + "." + k
			switch k {
			case "source_match", "target_match", "source_match_re", "target_match_re", "source_matchers", "target_matchers":
				var ms []Matcher
				if strings.HasSuffix(k, "matchers") {
					ms, err = matcherList(m[k], p)
				} else {
					ms, err = matchMap(m[k], p, strings.HasSuffix(k, "_re"))
				}
				if err != nil {
					return err
				}
				if strings.HasPrefix(k, "source") {
					r.SourceMatchers = append(r.SourceMatchers, ms...)
				} else {
					r.TargetMatchers = append(r.TargetMatchers, ms...)
				}
			case "equal":
				if r.Equal, err = stringList(m[k], p); err != nil {
					return err
				}
			default:
				c.Unknown = append(c.Unknown, p)
			}
		}
		c.InhibitRules = append(c.InhibitRules, r)
	}
	return nil
}

var routeKeys = []string{"receiver", "group_by", "match", "match_re", "matchers", "mute_time_intervals",
	"active_time_intervals", "continue", "routes", "group_wait", "group_interval", "repeat_interval", "labels"}

// MaxRoutes bounds the routing tree: YAML aliases can make a short file
// describe an exponentially large tree.
const MaxRoutes = 10000

func parseRoute(v any, path string, count *int) (*Route, error) {
	if *count++; *count > MaxRoutes {
		return nil, validation.NewFieldError(path, "more than %d routes (YAML aliases repeating a route tree?)", MaxRoutes)
	}
	m, err := asMap(v, path)
	if err != nil {
		return nil, err
	}
	for _, k := range sortedKeys(m) {
		if !slices.Contains(routeKeys, k) {
			return nil, validation.NewFieldError(path+"."+k, "unknown field in route")
		}
	}
	r := &Route{Path: path}
	if r.Receiver, err = str(m["receiver"], path+".receiver"); err != nil {
		return nil, err
	}
	if g, ok := m["group_by"]; ok && g != nil {
		list, err := stringList(g, path+".group_by")
		if err != nil {
			return nil, err
		}
		r.GroupBy = []string{}
		seen := map[string]bool{}
		for i, l := range list {
			p := fmt.Sprintf("%s.group_by[%d]", path, i)
			switch {
			case l == "...":
				r.GroupByAll = true
				continue
			case !validLabelName(l):
				return nil, validation.NewFieldError(p, "invalid label name %q in group_by list", l)
			case seen[l]:
				return nil, validation.NewFieldError(p, "duplicated label %q in group_by", l)
			}
			seen[l] = true
			r.GroupBy = append(r.GroupBy, l)
		}
		if r.GroupByAll && len(r.GroupBy) > 0 {
			return nil, validation.NewFieldError(path+".group_by", "cannot have wildcard group_by (`...`) and other labels at the same time")
		}
		if r.GroupByAll {
			r.GroupBy = nil
		}
	}
	for _, k := range []string{"match", "match_re"} {
		ms, err := matchMap(m[k], path+"."+k, k == "match_re")
		if err != nil {
			return nil, err
		}
		r.Matchers = append(r.Matchers, ms...)
	}
	ms, err := matcherList(m["matchers"], path+".matchers")
	if err != nil {
		return nil, err
	}
	r.Matchers = append(r.Matchers, ms...)
	if r.MuteTimeIntervals, err = stringList(m["mute_time_intervals"], path+".mute_time_intervals"); err != nil {
		return nil, err
	}
	if r.ActiveTimeIntervals, err = stringList(m["active_time_intervals"], path+".active_time_intervals"); err != nil {
		return nil, err
	}
	if c, ok := m["continue"]; ok && c != nil {
		b, ok := c.(bool)
		if !ok {
			return nil, validation.NewFieldError(path+".continue", "must be true or false")
		}
		r.Continue = b
	}
	for _, k := range []string{"group_wait", "group_interval", "repeat_interval"} {
		if m[k] == nil {
			continue
		}
		s, err := str(m[k], path+"."+k)
		if err != nil {
			return nil, err
		}
		d, err := ParseDuration(s)
		if err != nil {
			return nil, validation.NewFieldError(path+"."+k, "%s", err)
		}
		if d == 0 && k != "group_wait" {
			return nil, validation.NewFieldError(path+"."+k, "%s cannot be zero", k)
		}
		switch k {
		case "group_wait":
			r.GroupWait = &d
		case "group_interval":
			r.GroupInterval = &d
		default:
			r.RepeatInterval = &d
		}
	}
	if l, ok := m["labels"]; ok && l != nil {
		lm, err := asMap(l, path+".labels")
		if err != nil {
			return nil, err
		}
		r.Labels = map[string]string{}
		for k, v := range lm {
			if r.Labels[k], err = str(v, path+".labels."+k); err != nil {
				return nil, err
			}
		}
	}
	children, err := asList(m["routes"], path+".routes")
	if err != nil {
		return nil, err
	}
	for i, c := range children {
		child, err := parseRoute(c, fmt.Sprintf("%s.routes[%d]", path, i), count)
		if err != nil {
			return nil, err
		}
		r.Routes = append(r.Routes, child)
	}
	return r, nil
}

// matchMap reads the deprecated match / match_re maps, sorted by label
// name as Alertmanager sorts them.
func matchMap(v any, path string, re bool) ([]Matcher, error) {
	if v == nil {
		return nil, nil
	}
	m, err := asMap(v, path)
	if err != nil {
		return nil, err
	}
	var out []Matcher
	for _, k := range sortedKeys(m) {
		p := path + "." + k
		if !validLabelName(k) {
			return nil, validation.NewFieldError(p, "invalid label name %q", k)
		}
		s, err := str(m[k], p)
		if err != nil {
			return nil, err
		}
		t := MatchEqual
		if re {
			t = MatchRegexp
		}
		mt, err := NewMatcher(k, t, s)
		if err != nil {
			return nil, validation.NewFieldError(p, "%s", err)
		}
		out = append(out, mt)
	}
	return out, nil
}

func matcherList(v any, path string) ([]Matcher, error) {
	list, err := stringList(v, path)
	if err != nil {
		return nil, err
	}
	var out []Matcher
	for i, s := range list {
		ms, err := ParseMatchers(s)
		if err != nil {
			return nil, validation.NewFieldError(fmt.Sprintf("%s[%d]", path, i), "%s", err)
		}
		out = append(out, ms...)
	}
	return out, nil
}

func validLabelName(s string) bool { return labelNameRE.MatchString(s) }

var durationRE = regexp.MustCompile(`^(?:([0-9]+)y)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?$`)

// ParseDuration reads Prometheus' duration syntax ("30s", "1h30m", "1d",
// "1w"; a year is 365 days), which Alertmanager uses.
func ParseDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	m := durationRE.FindStringSubmatch(s)
	if s == "" || m == nil {
		return 0, fmt.Errorf("not a valid duration string: %q", s)
	}
	units := []time.Duration{365 * 24 * time.Hour, 7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute, time.Second, time.Millisecond}
	var d time.Duration
	for i, u := range units {
		if m[i+1] == "" {
			continue
		}
		n, err := strconv.ParseInt(m[i+1], 10, 64)
		if err != nil || n > int64(1<<62)/int64(u) {
			return 0, fmt.Errorf("duration %q is out of range", s)
		}
		if d += time.Duration(n) * u; d < 0 {
			return 0, fmt.Errorf("duration %q is out of range", s)
		}
	}
	return d, nil
}

// The generic-tree helpers: each failure names the path.

func asMap(v any, path string) (map[string]any, error) {
	switch m := v.(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return m, nil
	case map[any]any: // non-string keys
		out := make(map[string]any, len(m))
		for k, e := range m {
			out[fmt.Sprint(k)] = e
		}
		return out, nil
	}
	return nil, validation.NewFieldError(path, "must be a mapping, not %s", describe(v))
}

func asList(v any, path string) ([]any, error) {
	switch l := v.(type) {
	case nil:
		return nil, nil
	case []any:
		return l, nil
	}
	return nil, validation.NewFieldError(path, "must be a list, not %s", describe(v))
}

// str reads a scalar as a string: YAML `2026` or `true` where a string
// belongs is read as Alertmanager's YAML decoder reads it.
func str(v any, path string) (string, error) {
	switch s := v.(type) {
	case nil:
		return "", nil
	case string:
		return s, nil
	case bool, int, int64, uint64, float64:
		return fmt.Sprint(s), nil
	}
	return "", validation.NewFieldError(path, "must be a string, not %s", describe(v))
}

func stringList(v any, path string) ([]string, error) {
	list, err := asList(v, path)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(list))
	for i, e := range list {
		s, err := str(e, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func describe(v any) string {
	switch v.(type) {
	case map[string]any, map[any]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

package alertmanager

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// ValidateAgainstSpec checks a JSON document against one schema of a
// Swagger 2.0 / OpenAPI document, for tests: vigil's responses must be what
// Alertmanager's generated clients (amtool) accept. schemaRef is a JSON
// pointer such as "#/definitions/gettableAlerts" or
// "#/paths/~1silences/post/responses/200/schema".
//
// It covers the subset api_v2_openapi.yaml uses: $ref, allOf, type
// (object, array, string, boolean, integer, number), properties, required,
// additionalProperties, items, minItems, enum, and the formats date-time,
// uuid and uri. Swagger 2.0 has no null, so a null where a type is
// declared is an error: the spec's arrays must be written as [].
// Properties the schema does not declare are allowed, as in JSON Schema.
// All violations are returned, joined, each prefixed with its JSON path.
func ValidateAgainstSpec(specYAML []byte, schemaRef string, doc []byte) error {
	var spec any
	if err := yaml.Unmarshal(specYAML, &spec); err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	schema, err := resolvePointer(spec, schemaRef)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("read document: %w", err)
	}
	c := &specChecker{root: spec}
	c.check(schema, v, "$", 0)
	return errors.Join(c.errs...)
}

type specChecker struct {
	root any
	errs []error
}

// maxSpecDepth stops a self-referencing schema from recursing forever.
const maxSpecDepth = 64

func (c *specChecker) fail(path, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

func (c *specChecker) check(schema, v any, path string, depth int) {
	if depth > maxSpecDepth {
		c.fail(path, "schema nesting deeper than %d", maxSpecDepth)
		return
	}
	s, ok := asMap(schema)
	if !ok {
		c.fail(path, "schema is not an object")
		return
	}
	if ref, ok := s["$ref"].(string); ok {
		target, err := resolvePointer(c.root, ref)
		if err != nil {
			c.fail(path, "%v", err)
			return
		}
		c.check(target, v, path, depth+1)
		return
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, sub := range all {
			c.check(sub, v, path, depth+1)
		}
	}
	if t, ok := s["type"].(string); ok && !c.checkType(t, v, path) {
		return
	}
	if enum, ok := s["enum"].([]any); ok {
		if !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
			c.fail(path, "%v is not one of %v", v, enum)
		}
	}
	if f, ok := s["format"].(string); ok {
		if str, ok := v.(string); ok {
			c.checkFormat(f, str, path)
		}
	}
	if obj, ok := v.(map[string]any); ok {
		c.checkObject(s, obj, path, depth)
	}
	if arr, ok := v.([]any); ok {
		if n, ok := asInt(s["minItems"]); ok && len(arr) < n {
			c.fail(path, "has %d items, want at least %d", len(arr), n)
		}
		if items, ok := s["items"]; ok {
			for i, e := range arr {
				c.check(items, e, fmt.Sprintf("%s[%d]", path, i), depth+1)
			}
		}
	}
}

func (c *specChecker) checkObject(s map[string]any, obj map[string]any, path string, depth int) {
	if req, ok := s["required"].([]any); ok {
		for _, r := range req {
			name := fmt.Sprint(r)
			if _, ok := obj[name]; !ok {
				c.fail(path, "required property %q is missing", name)
			}
		}
	}
	props, _ := asMap(s["properties"])
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if ps, ok := props[k]; ok {
			c.check(ps, obj[k], path+"."+k, depth+1)
			continue
		}
		switch ap := s["additionalProperties"].(type) {
		case bool:
			if !ap {
				c.fail(path, "property %q is not allowed", k)
			}
		case nil:
		default:
			c.check(ap, obj[k], path+"."+k, depth+1)
		}
	}
}

func (c *specChecker) checkType(t string, v any, path string) bool {
	ok := false
	switch t {
	case "object":
		_, ok = v.(map[string]any)
	case "array":
		_, ok = v.([]any)
	case "string":
		_, ok = v.(string)
	case "boolean":
		_, ok = v.(bool)
	case "number":
		_, ok = v.(json.Number)
	case "integer":
		if n, isNum := v.(json.Number); isNum {
			_, err := n.Int64()
			ok = err == nil
		}
	default:
		c.fail(path, "schema type %q is not supported", t)
		return false
	}
	if !ok {
		c.fail(path, "is %s, want %s", jsonKind(v), t)
	}
	return ok
}

var uuidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (c *specChecker) checkFormat(f, s, path string) {
	switch f {
	case "date-time":
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			c.fail(path, "%q is not a date-time", s)
		}
	case "uuid":
		if !uuidRe.MatchString(s) {
			c.fail(path, "%q is not a uuid", s)
		}
	case "uri":
		if _, err := url.Parse(s); err != nil {
			c.fail(path, "%q is not a uri", s)
		}
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// asMap accepts the map types a YAML decoder may produce.
func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, val := range m {
			out[fmt.Sprint(k)] = val
		}
		return out, true
	}
	return nil, false
}

func asInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case uint64:
		return int(n), true
	case float64:
		return int(n), true
	}
	return 0, false
}

// resolvePointer follows a local JSON pointer ("#/a/b~1c").
func resolvePointer(root any, ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, fmt.Errorf("schema ref %q: only local refs are supported", ref)
	}
	cur := root
	if rest == "" {
		return cur, nil
	}
	for _, part := range strings.Split(strings.TrimPrefix(rest, "/"), "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := asMap(cur)
		if !ok {
			return nil, fmt.Errorf("schema ref %q: %q is not inside an object", ref, part)
		}
		if cur, ok = m[part]; !ok {
			return nil, fmt.Errorf("schema ref %q: %q not found", ref, part)
		}
	}
	return cur, nil
}

package enrich

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// A JSON path in the mapping language is deliberately small: dot-separated
// object keys with optional [n] array indexes, e.g.
//
//	data.attributes.last_analysis_stats.malicious
//	results[0].score
//	[2].name          (the body itself is an array)
//
// Keys cannot contain '.', '[' or ']'. There are no wildcards, filters or
// negative indexes: a mapping picks one value, and anything richer belongs
// in a Cortex analyzer.
type jsonPath []pathStep

type pathStep struct {
	key   string
	index int // -1 for a key step
}

// maxPathSteps bounds a path, for fuzzing and for sanity.
const maxPathSteps = 64

// parsePath compiles a path; the empty path is the whole document.
func parsePath(s string) (jsonPath, error) {
	var p jsonPath
	if s == "" {
		return p, nil
	}
	for i, seg := range strings.Split(s, ".") {
		key, rest, _ := strings.Cut(seg, "[")
		if key == "" && (i > 0 || rest == "") {
			return nil, fmt.Errorf("path %q: empty key", s)
		}
		if strings.Contains(key, "]") {
			return nil, fmt.Errorf("path %q: stray ']'", s)
		}
		if key != "" {
			p = append(p, pathStep{key: key, index: -1})
		}
		if !strings.Contains(seg, "[") {
			continue
		}
		rest = "[" + rest
		for rest != "" {
			if rest[0] != '[' {
				return nil, fmt.Errorf("path %q: expected '[' in %q", s, rest)
			}
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("path %q: unclosed '['", s)
			}
			n, err := strconv.Atoi(rest[1:end])
			if err != nil || n < 0 || rest[1] == '+' {
				return nil, fmt.Errorf("path %q: index %q is not a non-negative integer", s, rest[1:end])
			}
			p = append(p, pathStep{index: n})
			rest = rest[end+1:]
		}
		if len(p) > maxPathSteps {
			return nil, fmt.Errorf("path %q: more than %d steps", s, maxPathSteps)
		}
	}
	return p, nil
}

// String renders the path back in its syntax.
func (p jsonPath) String() string {
	var b strings.Builder
	for i, st := range p {
		if st.index >= 0 {
			fmt.Fprintf(&b, "[%d]", st.index)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(st.key)
	}
	return b.String()
}

// lookup walks doc (decoded with UseNumber); ok is false when a step is
// missing or meets the wrong kind of value.
func (p jsonPath) lookup(doc any) (any, bool) {
	cur := doc
	for _, st := range p {
		if st.index >= 0 {
			arr, ok := cur.([]any)
			if !ok || st.index >= len(arr) {
				return nil, false
			}
			cur = arr[st.index]
			continue
		}
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[st.key]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// decodeJSON decodes a body keeping numbers exact.
func decodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

// valueString renders a JSON value for a taxonomy: strings as they are,
// numbers and booleans as written, null as "", containers as compact JSON.
func valueString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

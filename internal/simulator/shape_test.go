package simulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/vigil-soc/vigil/internal/simulator"
)

// Shared by the services' tests: the comparison of a simulator answer with
// Microsoft's example payload (shapeDiff), fixture loading, tokens and raw
// requests.

// shapeOpts says how strictly shapeDiff compares. The zero value is the
// strictest: a null in got matches only a null in want, scalars keep their
// JSON kind, each element of a got array must match some element of the
// want array, and got may have no key want does not.
type shapeOpts struct {
	// NullMatches lets a null in got stand for any value. A null in want
	// always does: the example does not say.
	NullMatches bool
	// Scalars is how a scalar of want is compared with got.
	Scalars scalarRule
	// Arrays is how the elements of arrays are compared.
	Arrays arrayRule
	// AllowPaths are keys got may have beyond want's, by path from the
	// root: keys joined by ".", each array level adding "[]", as in
	// "value[].evidence[].ipAddress". An extra key is not looked into, so
	// anything below it is allowed too.
	AllowPaths []string
	// AllowKeys are keys got may have beyond want's at any depth, by name.
	AllowKeys []string
	// DataUnder names keys (path suffixes, see pathEndsWith) whose object's
	// keys are data, not shape, as Azure DevOps' "fields" are field names:
	// only keys both sides have are compared. Below such an object scalar
	// kinds are not compared, and DataOptional keys may be missing or extra.
	DataUnder    []string
	DataOptional []string
	// Open replaces the comparison of an object whose path ends with a key
	// of the map (see pathEndsWith) with a check of its own, for open
	// dictionaries whose keys an example cannot list.
	Open map[string]func(path string, got map[string]any) []string
}

// scalarRule is how a scalar (string, number, boolean) of want is compared.
type scalarRule int

const (
	scalarKinds        scalarRule = iota // got has the same JSON kind
	scalarNotContainer                   // got is not an object or array
	scalarAny                            // anything goes
)

// arrayRule is how the elements of a got array are compared with those
// of the want array. An empty array on either side matches any array.
type arrayRule int

const (
	// arrayAnyElement: each element of got has the shape of some element
	// of want.
	arrayAnyElement arrayRule = iota
	// arrayODataType: each element of got is compared with the element of
	// want of the same @odata.type, or else with the keys every element of
	// want has.
	arrayODataType
	// arrayUnion: the union of got's elements (see shapeMerge) is compared
	// with the union of want's.
	arrayUnion
)

// shapeDiff compares JSON documents (as encoding/json decodes them into an
// any) by shape: property names, nesting and, as opts says, JSON kinds;
// values are ignored. It returns the differences, sorted, one a line, with
// paths written as AllowPaths are ("$" is the root).
func shapeDiff(want, got any, opts shapeOpts) []string {
	d := opts.diff("", want, got, false)
	sort.Strings(d)
	return slices.Compact(d)
}

func (o shapeOpts) diff(path string, want, got any, data bool) []string {
	if want == nil || (got == nil && o.NullMatches) {
		return nil
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: an object in the example, %s here", shapeAt(path), jsonKind(got))}
		}
		for suffix, check := range o.Open {
			if pathEndsWith(path, suffix) {
				return check(shapeAt(path), g)
			}
		}
		keysAreData := slices.ContainsFunc(o.DataUnder, func(k string) bool { return pathEndsWith(path, k) })
		optional := func(k string) bool { return data && slices.Contains(o.DataOptional, k) }
		var out []string
		for k, wv := range w {
			p := shapeJoin(path, k)
			gv, ok := g[k]
			if !ok {
				if !keysAreData && !optional(k) {
					out = append(out, "missing "+p)
				}
				continue
			}
			out = append(out, o.diff(p, wv, gv, data || keysAreData)...)
		}
		if !keysAreData {
			for k := range g {
				p := shapeJoin(path, k)
				if _, ok := w[k]; !ok && !optional(k) && !slices.Contains(o.AllowKeys, k) && !slices.Contains(o.AllowPaths, p) {
					out = append(out, "extra "+p)
				}
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: an array in the example, %s here", shapeAt(path), jsonKind(got))}
		}
		if len(w) == 0 || len(g) == 0 {
			return nil
		}
		p := path + "[]"
		switch o.Arrays {
		case arrayUnion:
			return o.diff(p, shapeMerge(w), shapeMerge(g), data)
		case arrayODataType:
			var out []string
			for _, ge := range g {
				out = append(out, o.diff(p, odataMatch(w, ge), ge, data)...)
			}
			return out
		}
		var out []string
		for i, ge := range g {
			var best []string
			for j, we := range w {
				d := o.diff(p, we, ge, data)
				if len(d) == 0 {
					best = nil
					break
				}
				if j == 0 || len(d) < len(best) {
					best = d
				}
			}
			if best != nil {
				sort.Strings(best)
				out = append(out, fmt.Sprintf("%s element %d matches no element of the example; the closest: %s", shapeAt(p), i, strings.Join(best, "; ")))
			}
		}
		return out
	}
	if data {
		return nil
	}
	switch o.Scalars {
	case scalarKinds:
		if jsonKind(want) != jsonKind(got) {
			return []string{fmt.Sprintf("%s: a %s in the example, %s here", shapeAt(path), jsonKind(want), jsonKind(got))}
		}
	case scalarNotContainer:
		switch got.(type) {
		case map[string]any, []any:
			return []string{fmt.Sprintf("%s: a %s in the example, %s here", shapeAt(path), jsonKind(want), jsonKind(got))}
		}
	}
	return nil
}

func shapeJoin(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func shapeAt(path string) string {
	if path == "" {
		return "$"
	}
	return path
}

// pathEndsWith reports whether path is suffix or ends with "." + suffix:
// "entities[]" names the entities of an alert at any depth.
func pathEndsWith(path, suffix string) bool {
	return path == suffix || strings.HasSuffix(path, "."+suffix)
}

// jsonKind names the JSON kind of a decoded value.
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
	case float64:
		return "number"
	case bool:
		return "boolean"
	}
	return fmt.Sprintf("%T", v)
}

// shapeMerge merges array elements into one: the union of object keys,
// merged recursively (arrays concatenated); a scalar element stands for
// them all.
func shapeMerge(elems []any) any {
	var merged map[string]any
	for _, e := range elems {
		m, ok := e.(map[string]any)
		if !ok {
			return e
		}
		if merged == nil {
			merged = map[string]any{}
		}
		for k, v := range m {
			switch old := merged[k].(type) {
			case nil:
				merged[k] = v
			case map[string]any:
				if vm, ok := v.(map[string]any); ok {
					merged[k] = shapeMerge([]any{old, vm})
				}
			case []any:
				if va, ok := v.([]any); ok {
					merged[k] = append(slices.Clone(old), va...)
				}
			}
		}
	}
	return merged
}

// odataMatch picks what an element g of a got array is compared with: the
// element of want of the same @odata.type, or else the keys every element
// of want has.
func odataMatch(want []any, g any) any {
	gm, ok := g.(map[string]any)
	if !ok {
		return want[0]
	}
	if t, ok := gm["@odata.type"]; ok {
		for _, w := range want {
			if wm, ok := w.(map[string]any); ok && wm["@odata.type"] == t {
				return w
			}
		}
	}
	first, ok := want[0].(map[string]any)
	if !ok {
		return want[0]
	}
	common := map[string]any{}
	for k, v := range first {
		inAll := true
		for _, w := range want[1:] {
			if wm, ok := w.(map[string]any); !ok {
				inAll = false
			} else if _, ok := wm[k]; !ok {
				inAll = false
			}
		}
		if inAll {
			common[k] = v
		}
	}
	return common
}

// TestShapeDiff makes sure the comparison, with each service's options,
// reports what it must and only that.
func TestShapeDiff(t *testing.T) {
	decode := func(s string) any {
		t.Helper()
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		return v
	}
	sets := []struct {
		name string
		opts shapeOpts
	}{
		{"strictest", shapeOpts{}},
		{"defender", dfcShapeOpts},
		{"devops", adoShapeOpts},
		{"graph", grShapeOpts()},
		{"sentinel", senShapeOpts},
	}

	// Every set of options reports a missing key, an extra key, a type
	// change and an extra key inside a nested object or an array element.
	const doc = `{"id":"a","n":1,"props":{"name":"x","tags":["t"],"inner":{"k":true}},"list":[{"a":1}]}`
	props := func(m map[string]any) map[string]any { return m["props"].(map[string]any) }
	basic := []struct {
		name, path string
		mutate     func(m map[string]any)
	}{
		{"missing key", "missing props.name", func(m map[string]any) { delete(props(m), "name") }},
		{"extra key", "extra bogus", func(m map[string]any) { m["bogus"] = "x" }},
		{"type change", "props.inner: an object in the example, string here", func(m map[string]any) { props(m)["inner"] = "x" }},
		{"array to object", "props.tags: an array in the example, object here", func(m map[string]any) { props(m)["tags"] = map[string]any{} }},
		{"nested extra key", "extra props.inner.extra", func(m map[string]any) { props(m)["inner"].(map[string]any)["extra"] = 1.0 }},
		{"extra key in an element", "extra list[].b", func(m map[string]any) { m["list"].([]any)[0].(map[string]any)["b"] = 1.0 }},
	}
	for _, s := range sets {
		if d := shapeDiff(decode(doc), decode(doc), s.opts); len(d) != 0 {
			t.Errorf("%s: a document differs from itself: %q", s.name, d)
		}
		for _, c := range basic {
			got := decode(doc).(map[string]any)
			c.mutate(got)
			if d := shapeDiff(decode(doc), got, s.opts); !strings.Contains(strings.Join(d, "\n"), c.path) {
				t.Errorf("%s, %s: diff %q does not report %q", s.name, c.name, d, c.path)
			}
		}
	}

	// Scalar kinds and nulls, as each service's options say.
	for _, c := range []struct {
		name, got  string
		reportedBy []string
	}{
		{"number to string", `{"n":"1"}`, []string{"strictest", "defender", "devops"}},
		{"scalar to object", `{"n":{}}`, []string{"strictest", "defender", "devops", "sentinel"}},
		{"null for a scalar", `{"n":null}`, []string{"strictest", "defender", "devops"}},
		{"null for an object", `{"n":1,"o":null}`, []string{"strictest", "defender", "devops"}},
	} {
		want := decode(`{"n":1,"o":{"k":1}}`)
		got := decode(c.got).(map[string]any)
		if _, ok := got["o"]; !ok {
			got["o"] = map[string]any{"k": 1.0}
		}
		for _, s := range sets {
			d := shapeDiff(want, got, s.opts)
			if reported := len(d) > 0; reported != slices.Contains(c.reportedBy, s.name) {
				t.Errorf("%s, %s: diff %q", s.name, c.name, d)
			}
		}
		// A null in the example accepts anything.
		if d := shapeDiff(decode(`{"n":null,"o":null}`), got, shapeOpts{}); len(d) != 0 {
			t.Errorf("%s against nulls: %q", c.name, d)
		}
	}

	t.Run("allowed extra keys", func(t *testing.T) {
		want := decode(`{"a":{"b":1},"l":[{"c":1}]}`)
		got := decode(`{"a":{"b":1,"x":1,"y":{"z":1}},"l":[{"c":1,"x":1}],"x":1,"y":1}`)
		d := shapeDiff(want, got, shapeOpts{AllowPaths: []string{"a.x", "a.y", "l[].x"}})
		if w := []string{"extra x", "extra y"}; !slices.Equal(d, w) {
			t.Errorf("by path: %q, want %q", d, w)
		}
		d = shapeDiff(want, got, shapeOpts{AllowKeys: []string{"x"}})
		if w := []string{"extra a.y", "extra y"}; !slices.Equal(d, w) {
			t.Errorf("by name: %q, want %q", d, w)
		}
	})

	t.Run("devops data", func(t *testing.T) {
		want := decode(`{"fields":{"System.Title":"t","System.State":"New","System.CreatedBy":{"displayName":"a","id":"b"},
			"System.Rev":{"oldValue":1,"newValue":2}},"change":{"oldValue":1}}`)
		for _, c := range []struct {
			got  string
			diff []string
		}{
			// Fields are data: either side may lack one, and their values may
			// change kind; oldValue and newValue come and go below them.
			{`{"fields":{"System.Title":1,"Custom.X":"y","System.CreatedBy":{"displayName":"a","id":"b"},"System.Rev":{"newValue":2}},"change":{"oldValue":1}}`, nil},
			// An object below a field still has its shape.
			{`{"fields":{"System.CreatedBy":{"displayName":"a","url":"u"}},"change":{"oldValue":1}}`,
				[]string{"extra fields.System.CreatedBy.url", "missing fields.System.CreatedBy.id"}},
			{`{"fields":{"System.CreatedBy":"a"},"change":{"oldValue":1}}`,
				[]string{"fields.System.CreatedBy: an object in the example, string here"}},
			// Outside fields, oldValue and newValue are shape.
			{`{"fields":{},"change":{"newValue":1}}`, []string{"extra change.newValue", "missing change.oldValue"}},
		} {
			if d := shapeDiff(want, decode(c.got), adoShapeOpts); !slices.Equal(d, c.diff) {
				t.Errorf("%s: diff %q, want %q", c.got, d, c.diff)
			}
		}
		hook := adoShapeOpts
		hook.AllowKeys = []string{"subscriptionId"}
		if d := shapeDiff(decode(`{"fields":{}}`), decode(`{"fields":{},"subscriptionId":"s","notificationId":1}`), hook); !slices.Equal(d, []string{"extra notificationId"}) {
			t.Errorf("allowed keys: %q", d)
		}
	})

	t.Run("array elements", func(t *testing.T) {
		want := decode(`{"l":[{"a":1},{"b":1}]}`)
		got := decode(`{"l":[{"b":2},{"a":2},{"a":1,"b":1}]}`)
		// An element with the keys of two example elements matches neither...
		if d := shapeDiff(want, got, shapeOpts{}); len(d) != 1 || !strings.HasPrefix(d[0], "l[] element 2 matches no element") {
			t.Errorf("any element: %q", d)
		}
		// ...but the union of the elements is the example's.
		if d := shapeDiff(want, got, senShapeOpts); len(d) != 0 {
			t.Errorf("union: %q", d)
		}
	})

	t.Run("graph", func(t *testing.T) {
		want := decode(`{"value":[{"a":1,"n":null,"o":{"x":1},"ev":[{"@odata.type":"#t1","k1":1},{"@odata.type":"#t2","k2":1,"c":1}]}]}`)
		got := decode(`{"value":[{"a":"s","n":{"z":1},"o":{"y":1},"extra":1,"ev":[{"@odata.type":"#t1"},{"@odata.type":"#t3","c":1,"k3":1}]}]}`)
		d := shapeDiff(want, got, grShapeOpts([]string{"value[].ev[].k3"}))
		// Values and null-versus-object are not compared; the #t1 element
		// lacks k1; the #t3 element is compared with the keys every example
		// element has (@odata.type), so its c is extra and its k3 allowed.
		wantD := []string{"extra value[].ev[].c", "extra value[].extra", "extra value[].o.y", "missing value[].ev[].k1", "missing value[].o.x"}
		if !slices.Equal(d, wantD) {
			t.Errorf("diff = %q, want %q", d, wantD)
		}
	})

	t.Run("sentinel", func(t *testing.T) {
		want := map[string]any{"a": 1.0, "b": map[string]any{"c": "x"}, "l": []any{map[string]any{"k": 1.0}, map[string]any{"j": 1.0}}, "n": nil}
		for _, tc := range []struct {
			got  any
			diff int
		}{
			{map[string]any{"a": 2.0, "b": map[string]any{"c": "y"}, "l": []any{map[string]any{"k": 3.0, "j": 2.0}}, "n": map[string]any{}}, 0},
			{map[string]any{"a": 2.0, "b": map[string]any{}, "l": []any{}, "n": nil}, 1},                                           // missing b.c
			{map[string]any{"a": 2.0, "b": map[string]any{"c": "y", "d": 1.0}, "l": []any{map[string]any{"k": 1.0}}, "n": nil}, 2}, // extra b.d, missing l[].j
			{map[string]any{"a": map[string]any{}, "b": "x", "l": []any{}, "n": nil}, 2},                                           // a and b change kind
		} {
			if d := shapeDiff(want, tc.got, senShapeOpts); len(d) != tc.diff {
				t.Errorf("diff(%v) = %v, want %d differences", tc.got, d, tc.diff)
			}
		}
	})

	t.Run("defender", func(t *testing.T) {
		fx := fixture[dfcFixture](t, "defender", "alert_get.json")
		load := func() map[string]any {
			var m map[string]any
			json.Unmarshal(fx.Responses["200"].Body, &m)
			return m
		}
		props := func(m map[string]any) map[string]any { return m["properties"].(map[string]any) }
		if d := shapeDiff(load(), load(), dfcShapeOpts); len(d) != 0 {
			t.Fatalf("the example differs from itself: %v", d)
		}
		for name, mutate := range map[string]func(m map[string]any){
			"missing": func(m map[string]any) { delete(props(m), "subTechniques") },
			"extra":   func(m map[string]any) { props(m)["alertId"] = "x" },
			"nested": func(m map[string]any) {
				props(m)["resourceIdentifiers"].([]any)[1].(map[string]any)["workspaceID"] = "x"
			},
			"kind":         func(m map[string]any) { props(m)["isIncident"] = "true" },
			"array kind":   func(m map[string]any) { props(m)["techniques"] = []any{1.0} },
			"link key":     func(m map[string]any) { props(m)["extendedLinks"].([]any)[0].(map[string]any)["href"] = "x" },
			"evidence":     func(m map[string]any) { delete(props(m)["supportingEvidence"].(map[string]any), "columns") },
			"entity type":  func(m map[string]any) { delete(props(m)["entities"].([]any)[0].(map[string]any), "type") },
			"ext property": func(m map[string]any) { props(m)["extendedProperties"].(map[string]any)["n"] = 1.0 },
		} {
			m := load()
			mutate(m)
			if d := shapeDiff(load(), m, dfcShapeOpts); len(d) == 0 {
				t.Errorf("%s: no difference found", name)
			}
		}
		// Entities and extendedProperties are open dictionaries.
		m := load()
		props(m)["entities"].([]any)[0].(map[string]any)["hostName"] = "vm1"
		props(m)["extendedProperties"].(map[string]any)["Property2"] = "more"
		if d := shapeDiff(load(), m, dfcShapeOpts); len(d) != 0 {
			t.Errorf("open dictionaries: %q", d)
		}
	})
}

// fixture decodes testdata/<dir>/<name> into a T.
func fixture[T any](t *testing.T, dir, name string) T {
	t.Helper()
	var v T
	b, err := os.ReadFile(filepath.Join("testdata", dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s/%s: %v", dir, name, err)
	}
	return v
}

// fixtureFiles lists the JSON files of testdata/<dir> by name.
func fixtureFiles(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
	}
	return names
}

const (
	armScope   = "https://management.azure.com/.default"
	graphScope = "https://graph.microsoft.com/.default"
)

// accessToken is an access token for scope that azidentity gets from the
// simulated Entra ID.
func accessToken(t *testing.T, srv *simulator.Server, scope string) string {
	t.Helper()
	tok, err := credential(t, srv, srv.Info.ClientSecret).GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		t.Fatalf("GetToken(%s): %v", scope, err)
	}
	return tok.Token
}

// armOptions points an ARM SDK client at the simulator.
func armOptions(srv *simulator.Server) *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: azcore.ClientOptions{Cloud: cloudConfig(srv), Transport: srv.Client()}}
}

// send sends a raw request to the simulator and returns the response with
// its body read. A target that starts with "/" is relative to the
// simulator's base URL, anything else is absolute (a nextLink). A []byte
// body is sent as it is, any other but nil as JSON; a body goes with
// Content-Type: application/json. token, unless empty, is sent as a
// bearer token. hdr are further headers, as name, value pairs; they
// replace those set before.
func send(t *testing.T, srv *simulator.Server, method, target, token string, body any, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		if b != nil {
			rd = bytes.NewReader(b)
		}
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	if strings.HasPrefix(target, "/") {
		target = srv.URL + target
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}

// sendJSON is send for an answer that is a JSON object, or empty (nil).
func sendJSON(t *testing.T, srv *simulator.Server, method, target, token string, body any, hdr ...string) (*http.Response, map[string]any) {
	t.Helper()
	resp, raw := send(t, srv, method, target, token, body, hdr...)
	var m map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s %s: %d, body not a JSON object: %v: %s", method, target, resp.StatusCode, err, raw)
		}
	}
	return resp, m
}

// expectRespErr checks that an ARM SDK call failed with status and, unless
// code is empty, that error code.
func expectRespErr(t *testing.T, err error, status int, code string) {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want an *azcore.ResponseError %d %s", err, status, code)
	}
	if re.StatusCode != status || (code != "" && re.ErrorCode != code) {
		t.Fatalf("err = %d %q, want %d %q", re.StatusCode, re.ErrorCode, status, code)
	}
}

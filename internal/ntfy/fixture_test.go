package ntfy

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// TestPayloadAgainstFixtures compares the page's publish body with ntfy's
// documented examples (testdata/, see its README.md) field by field: each
// field vigil sends is one the examples use (or "clear", documented in
// the action-button table), with the same JSON type; each action carries
// the keys the example action of its kind has.
func TestPayloadAgainstFixtures(t *testing.T) {
	load := func(name string) map[string]any {
		raw, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	docs, httpDocs := load("publish_as_json.json"), load("publish_as_json_http_action.json")
	raw, _ := json.Marshal(NewMessage("vigil-alice_7", page("high")))
	var got map[string]any
	json.Unmarshal(raw, &got)

	for k, v := range got {
		want, ok := docs[k]
		if !ok {
			t.Errorf("field %q is not in the documented example", k)
			continue
		}
		if reflect.TypeOf(v) != reflect.TypeOf(want) {
			t.Errorf("field %q is a %T, the example's is a %T", k, v, want)
		}
	}
	examples := map[string]map[string]any{
		"view": docs["actions"].([]any)[0].(map[string]any),
		"http": httpDocs["actions"].([]any)[0].(map[string]any),
	}
	for _, a := range got["actions"].([]any) {
		a := a.(map[string]any)
		ex := examples[a["action"].(string)]
		for k := range ex {
			if reflect.TypeOf(a[k]) != reflect.TypeOf(ex[k]) {
				t.Errorf("%s action: %q is %T, the example's is %T", a["action"], k, a[k], ex[k])
			}
		}
		for k := range a {
			if _, ok := ex[k]; !ok && k != "clear" {
				t.Errorf("%s action: key %q is not in the example", a["action"], k)
			}
		}
	}
}

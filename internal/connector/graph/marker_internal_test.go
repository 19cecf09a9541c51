package graph

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// FuzzParseAlertComments: whatever GET alerts_v2/{id} answers, reading its
// comments never panics, and a comment carrying a marker is found by it.
func FuzzParseAlertComments(f *testing.F) {
	if b, err := os.ReadFile("testdata/alerts_v2_list.json"); err == nil {
		var list struct {
			Value []json.RawMessage `json:"value"`
		}
		if json.Unmarshal(b, &list) == nil {
			for _, a := range list.Value {
				f.Add([]byte(a), "0a1b2c3d4e5f")
			}
		}
	}
	f.Add([]byte(`{"comments":[{"comment":"x\n\n[vigil 0a1b2c3d4e5f]"}]}`), "0a1b2c3d4e5f")
	f.Add([]byte(`{"comments":null}`), "")
	f.Add([]byte(`[]`), "k")
	f.Fuzz(func(t *testing.T, data []byte, key string) {
		cs, err := parseAlertComments(data)
		if err != nil {
			return
		}
		if commentHasMarker(cs, "") {
			t.Fatal("an empty key matched")
		}
		if key == "" || strings.TrimSpace(key) != key {
			return
		}
		if !commentHasMarker(append(cs, withMarker("text", key)), key) {
			t.Fatalf("a comment with marker %q not found", key)
		}
	})
}

package tiupload_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/tiupload"
)

// objsOf makes n objects of exactly size bytes each.
func objsOf(n, size int) []json.RawMessage {
	out := make([]json.RawMessage, n)
	for i := range out {
		s := fmt.Sprintf(`{"i":%d,"p":""}`, i)
		s = s[:len(s)-2] + strings.Repeat("x", size-len(s)) + `"}`
		out[i] = json.RawMessage(s)
	}
	return out
}

func TestBatches(t *testing.T) {
	tests := []struct {
		name                 string
		n, size              int
		maxObjects, maxBytes int
		want                 []int // batch lengths
	}{
		{"none", 0, 20, 0, 0, nil},
		{"one", 1, 20, 0, 0, []int{1}},
		{"exactly the documented limit", 100, 20, 0, 0, []int{100}},
		{"one over", 101, 20, 0, 0, []int{100, 1}},
		{"250", 250, 20, 0, 0, []int{100, 100, 50}},
		{"a larger maxObjects is capped", 250, 20, 500, 0, []int{100, 100, 50}},
		{"smaller maxObjects", 7, 20, 3, 0, []int{3, 3, 1}},
		// 5 objects of 20 bytes: [ + 20 + (,20)*4 + ] = 106 bytes.
		{"bytes exactly", 10, 20, 0, 106, []int{5, 5}},
		{"bytes one short", 10, 20, 0, 105, []int{4, 4, 2}},
		{"an object larger than maxBytes travels alone", 3, 50, 0, 40, []int{1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := objsOf(tt.n, tt.size)
			got := tiupload.Batches(objs, tt.maxObjects, tt.maxBytes)
			var lens []int
			var all []json.RawMessage
			for _, b := range got {
				lens = append(lens, len(b))
				all = append(all, b...)
				arr, _ := json.Marshal(b)
				limit := tt.maxBytes
				if limit <= 0 {
					limit = tiupload.MaxBytes
				}
				if len(b) > 1 && len(arr) > limit {
					t.Errorf("batch of %d is %d bytes, over %d", len(b), len(arr), limit)
				}
			}
			if fmt.Sprint(lens) != fmt.Sprint(tt.want) {
				t.Errorf("batches %v, want %v", lens, tt.want)
			}
			if len(all) != len(objs) {
				t.Fatalf("%d objects out of %d", len(all), len(objs))
			}
			for i := range all {
				if string(all[i]) != string(objs[i]) {
					t.Fatalf("object %d out of order", i)
				}
			}
		})
	}
}

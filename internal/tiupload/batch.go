package tiupload

import "encoding/json"

// Documented limits of the upload API, applied per user.
const (
	// MaxObjects is how many STIX objects one request may carry.
	MaxObjects = 100
	// RequestsPerMinute is how many requests a minute the service takes
	// before it answers 429.
	RequestsPerMinute = 100
)

// MaxBytes bounds a batch's "stixobjects" array. The documentation gives
// no size limit; a megabyte keeps a full batch of 100 ordinary indicators
// (under 1 KB each) well inside any gateway's body limit while leaving
// room for indicators with long descriptions.
const MaxBytes = 1_000_000

// Batches splits objs, in order, into batches of at most maxObjects
// objects whose JSON array ("[" + objects joined by "," + "]") is at most
// maxBytes long. maxObjects is capped at MaxObjects, and a value of 0 or
// less means MaxObjects; maxBytes of 0 or less means MaxBytes. An object
// larger than maxBytes on its own is put in a batch by itself: it cannot
// be split, and the service decides whether to take it.
func Batches(objs []json.RawMessage, maxObjects, maxBytes int) [][]json.RawMessage {
	if maxObjects <= 0 || maxObjects > MaxObjects {
		maxObjects = MaxObjects
	}
	if maxBytes <= 0 {
		maxBytes = MaxBytes
	}
	var out [][]json.RawMessage
	var cur []json.RawMessage
	size := 0
	for _, o := range objs {
		// The array's brackets, then one comma before every object but
		// the first.
		add := len(o)
		if len(cur) > 0 {
			add++
		}
		if len(cur) > 0 && (len(cur) == maxObjects || size+add > maxBytes) {
			out = append(out, cur)
			cur, size, add = nil, 0, len(o)
		}
		if len(cur) == 0 {
			size = 2
		}
		cur = append(cur, o)
		size += add
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

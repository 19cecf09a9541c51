package main

import "testing"

// FuzzRulesFile: any file given to `vigil rules apply -f` parses or is
// refused with an error, and every parsed definition normalizes or is
// refused with an error: never a panic.
func FuzzRulesFile(f *testing.F) {
	f.Add([]byte("rules:\n  - name: Close pentest\n    enabled: true\n    triggers: [alert.created]\n    builder:\n      match: all\n      rows:\n        - {property: title, operator: contains, values: [pentest]}\n    actions:\n      - {type: close, classification: false_positive, reason: pentest week}\n    expires_at: 2026-12-12T00:00:00Z\n"))
	f.Add([]byte("rules:\n  - name: x\n    condtion: title == 'a'\n"))
	f.Add([]byte("rules: [{name: y, triggers: [item.moved], condition: 'changed.state.to == \"Closed\"', actions: [{type: comment, body: done}]}]\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		rf, err := parseRulesFile(raw)
		if err != nil {
			return
		}
		for i := range rf.Rules {
			_ = rf.Rules[i].Normalize()
		}
	})
}

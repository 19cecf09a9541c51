package ntfyemu

import (
	"encoding/json"
	"testing"
)

// FuzzEmulatorPublish: the publish parser never panics, and what it
// accepts keeps ntfy's rules.
func FuzzEmulatorPublish(f *testing.F) {
	f.Add([]byte(`{"topic":"mytopic","message":"Disk space is low","title":"Low disk","tags":["warning","cd"],"priority":4,"click":"https://home.lan/","actions":[{"action":"view","label":"Admin panel","url":"https://filesrv.lan/admin"}]}`))
	f.Add([]byte(`{"topic":"vigil","actions":[{"action":"http","label":"Acknowledge","url":"https://v/ack/t","method":"POST","headers":{"Content-Type":"application/x-www-form-urlencoded"},"body":"action=acknowledge","clear":true}]}`))
	f.Add([]byte(`{"topic":"t","priority":9}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, perr := parsePublish(body)
		if perr != nil {
			if perr.HTTP < 400 || perr.Error == "" {
				t.Fatalf("bad error %+v", perr)
			}
			return
		}
		if !json.Valid(body) || !topicRE.MatchString(p.Topic) || p.Priority < 0 || p.Priority > 5 || len(p.Actions) > maxActions {
			t.Fatalf("accepted %q as %+v", body, p)
		}
		for _, a := range p.Actions {
			if a.Label == "" || (a.Action == "http" && !absURL(a.URL, true)) || (a.Action == "view" && !absURL(a.URL, false)) {
				t.Fatalf("accepted action %+v", a)
			}
		}
		s := New("")
		if _, err := json.Marshal(s.message(p)); err != nil {
			t.Fatal(err)
		}
	})
}

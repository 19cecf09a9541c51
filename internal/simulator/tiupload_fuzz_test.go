package simulator

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzUploadBody feeds the upload API's request parser and per-object
// validation arbitrary bodies: they never panic, a parsed request has a
// source system and 1 to 100 objects, every object is either accepted
// with an id of its own type and a spec_version, or rejected with
// messages in the documented "Error for Property=" form.
func FuzzUploadBody(f *testing.F) {
	f.Add([]byte(`{"sourcesystem":"test","stixobjects":[{"type":"indicator","spec_version":"2.1","id":"indicator--10000003-71a2-445c-ab86-927291df48f8","created":"2010-02-26T18:29:07.778Z","modified":"2011-02-26T18:29:07.778Z","pattern":"[ipv4-addr:value = '172.29.6.7']","pattern_type":"stix","valid_from":"2015-02-26T18:29:07.778Z"}]}`))
	f.Add([]byte(`{"SourceSystem":"x","stixobjects":[1,"a",null,{},{"type":"relationship"}]}`))
	f.Add([]byte(`{"sourcesystem":"Microsoft Sentinel","stixobjects":[]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseTIUpload(body)
		if err != nil {
			return
		}
		if strings.TrimSpace(req.source) == "" || len(req.objects) == 0 || len(req.objects) > tiMaxObjects {
			t.Fatalf("accepted request %+v", req)
		}
		for i, raw := range req.objects {
			p, msgs := validateSTIXObject(raw)
			if len(msgs) > 0 {
				for _, m := range msgs {
					if !strings.HasPrefix(m, "Error for Property=") {
						t.Fatalf("object %d: message %q", i, m)
					}
				}
				continue
			}
			typ, _ := p.obj["type"].(string)
			if !strings.HasPrefix(p.id, typ+"--") || p.obj["spec_version"] == nil {
				t.Fatalf("object %d accepted: %+v", i, p)
			}
			if _, err := json.Marshal(p.obj); err != nil {
				t.Fatalf("object %d cannot be served back: %v", i, err)
			}
		}
	})
}

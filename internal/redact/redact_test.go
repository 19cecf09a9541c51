package redact

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestJSON(t *testing.T) {
	tok := "vgl_" + strings.Repeat("A", 43)
	key := "vgi_" + strings.Repeat("b", 43)
	tests := []struct {
		name, in, want string
		changed        bool
	}{
		{"nothing to mask is untouched", `{"a": 1, "b" : [true, null]}`, `{"a": 1, "b" : [true, null]}`, false},
		{"pagerduty routing key", `{"routing_key":"` + tok + `","event_action":"trigger","dedup_key":"d1"}`,
			`{"routing_key":"[redacted]","event_action":"trigger","dedup_key":"d1"}`, true},
		{"names in any case and separator", `{"Client-Secret":"s","apiKey":"k","X-API-Key":"k2","passWord":"p"}`,
			`{"Client-Secret":"[redacted]","apiKey":"[redacted]","X-API-Key":"[redacted]","passWord":"[redacted]"}`, true},
		{"nested and in arrays", `{"a":[{"token":{"x":1}}],"b":{"authorization":"Bearer x"}}`,
			`{"a":[{"token":"[redacted]"}],"b":{"authorization":"[redacted]"}}`, true},
		{"empty and null values stay", `{"token":"","secret":null,"pwd":"x"}`, `{"token":"","secret":null,"pwd":"[redacted]"}`, true},
		{"lookalike names are kept", `{"tokenIssuerType":"AzureAD","monkey":"k","keys":["a"]}`,
			`{"tokenIssuerType":"AzureAD","monkey":"k","keys":["a"]}`, false},
		{"vigil secrets anywhere", `{"annotations":{"runbook":"curl -H 'Authorization: Bearer ` + tok + `' x","k":"` + key + `"}}`,
			`{"annotations":{"runbook":"curl -H 'Authorization: Bearer vgl_[redacted]' x","k":"vgi_[redacted]"}}`, true},
		{"url parameters", `{"link":"https://vigil.example/api/v1/webhooks/azure-monitor?token=abc&x=1"}`,
			`{"link":"https://vigil.example/api/v1/webhooks/azure-monitor?token=%5Bredacted%5D\u0026x=1"}`, true},
		{"url password", `{"u":"https://bob:hunter2@example.com/x?sig=1"}`,
			`{"u":"https://bob:%5Bredacted%5D@example.com/x?sig=%5Bredacted%5D"}`, true},
		{"numbers keep their text", `{"token":"t","n":1.50,"big":12345678901234567890}`,
			`{"token":"[redacted]","n":1.50,"big":12345678901234567890}`, true},
		{"invalid JSON is left alone", `{"token":"t"`, `{"token":"t"`, false},
		{"trailing data is left alone", `{"token":"t"} x`, `{"token":"t"} x`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := JSON([]byte(tt.in))
			if string(got) != tt.want || changed != tt.changed {
				t.Errorf("JSON(%s)\n got %s (changed %v)\nwant %s (changed %v)", tt.in, got, changed, tt.want, tt.changed)
			}
			if changed && !json.Valid(got) {
				t.Errorf("output is not valid JSON: %s", got)
			}
		})
	}
}

func TestIsSensitive(t *testing.T) {
	for name, want := range map[string]bool{
		"routing_key": true, "Routing-Key": true, "token": true, "SAS token": true,
		"dedup_key": false, "tokens": false, "signature_type": false, "description": false,
	} {
		if got := IsSensitive(name); got != want {
			t.Errorf("IsSensitive(%q) = %v, want %v", name, got, want)
		}
	}
}

// FuzzJSON checks that masking never breaks a payload: the output is
// valid JSON whenever the input was, it holds no vigil secret, and
// masking is idempotent.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{
		`{"routing_key":"vgl_AAAAAAAAAAAAAAAAAAAAAAAAAAAA","payload":{"summary":"x"}}`,
		`[{"labels":{"token":"x"}},{"u":"https://a/b?token=1"}]`,
		`"vgi_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"`, `{"a":"\u0000key"}`, `1`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, changed := JSON(in)
		if !changed {
			if string(out) != string(in) {
				t.Fatalf("unchanged output differs from input")
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("masked output is not valid JSON: %q", out)
		}
		if vigilSecret.Match(out) {
			t.Fatalf("a vigil secret survived: %q", out)
		}
		again, twice := JSON(out)
		if twice || string(again) != string(out) {
			t.Fatalf("masking is not idempotent:\n%q\n%q", out, again)
		}
	})
}

// The cost masking adds to every stored payload: a typical Alertmanager
// alert (nothing to mask, refused by the cheap check) and a PagerDuty
// event (whose routing_key is masked).
func BenchmarkJSON(b *testing.B) {
	for _, bm := range []struct{ name, payload string }{
		{"alertmanager", `{"labels":{"alertname":"HighCPU","instance":"web-01:9100","job":"node","severity":"warning"},` +
			`"annotations":{"summary":"CPU above 90% for 10 minutes","runbook_url":"https://runbooks.example/cpu"},` +
			`"startsAt":"2026-12-05T12:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph?g0.expr=cpu"}`},
		{"pagerduty", `{"routing_key":"vgi_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG","event_action":"trigger","dedup_key":"srv01/mysql",` +
			`"payload":{"summary":"DISK at 99% on machine prod-datapipe03","source":"prod-datapipe03","severity":"critical",` +
			`"component":"mysql","group":"prod-datapipe","class":"disk","custom_details":{"free space":"1%","ping time":"1500ms"}}}`},
	} {
		b.Run(bm.name, func(b *testing.B) {
			p := []byte(bm.payload)
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				JSON(p)
			}
		})
	}
}

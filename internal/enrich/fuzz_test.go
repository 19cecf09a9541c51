package enrich

import (
	"testing"
)

func FuzzVTReport(f *testing.F) {
	f.Add([]byte(`{"data":{"id":"203.0.113.7","type":"ip_address","attributes":{"last_analysis_stats":{"malicious":12,"harmless":60,"undetected":22},"country":"NL","as_owner":"X","reputation":-3}}}`))
	f.Add([]byte(`{"data":{"attributes":{}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rep, err := ParseVTReport(Request{"ip", "203.0.113.7"}, body, fixedNow)
		if err != nil {
			return
		}
		if len(rep.Taxonomies) == 0 || !ValidLevel(rep.Verdict()) || rep.Summary == "" {
			t.Fatalf("%+v", rep)
		}
	})
}

func FuzzAbuseIPDB(f *testing.F) {
	f.Add([]byte(`{"data":{"ipAddress":"118.25.6.39","isWhitelisted":false,"abuseConfidenceScore":100,"countryCode":"CN","isp":"Tencent","totalReports":1}}`))
	f.Add([]byte(`{"errors":[{"detail":"x","status":401}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rep, err := ParseAbuseIPDB(Request{"ip", "118.25.6.39"}, body, fixedNow)
		if err != nil {
			return
		}
		if v := rep.Verdict(); v != LevelSafe && v != LevelSuspicious && v != LevelMalicious {
			t.Fatalf("verdict %q", v)
		}
	})
}

func FuzzCortexOutput(f *testing.F) {
	f.Add([]byte(`{"success":true,"summary":{"taxonomies":[{"level":"malicious","namespace":"VT","predicate":"GetReport","value":"3/70"}]},"full":{"a":1},"artifacts":[]}`))
	f.Add([]byte(`{"success":false,"errorMessage":"boom"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rep, err := ParseCortexOutput("A", Request{"ip", "x"}, body, fixedNow)
		if err != nil {
			return
		}
		if !ValidLevel(rep.Verdict()) || rep.Summary == "" {
			t.Fatalf("%+v", rep)
		}
	})
}

func FuzzHTTPMapping(f *testing.F) {
	f.Add("result.risk.score", "result.tags[0]", []byte(`{"result":{"risk":{"score":82},"tags":["c2"]}}`))
	f.Add("[0].a", "", []byte(`[{"a":"x"}]`))
	f.Fuzz(func(t *testing.T, levelPath, valuePath string, body []byte) {
		p, err := parsePath(levelPath)
		if err == nil {
			// Rendering and reparsing is stable.
			q, err := parsePath(p.String())
			if err != nil || q.String() != p.String() {
				t.Fatalf("round trip %q -> %q: %v", levelPath, p.String(), err)
			}
		}
		h, err := NewHTTP(HTTPConfig{
			Name: "F", URLTemplate: "https://x/{{.Data}}", DataTypes: []string{"ip"},
			Mapping: Mapping{Level: LevelMapping{Path: levelPath, MaliciousAt: ptr(75), SuspiciousAt: ptr(25)}, Value: valuePath},
		})
		if err != nil {
			return
		}
		rep, err := h.Map(Request{"ip", "x"}, body, fixedNow)
		if err != nil {
			return
		}
		if len(rep.Taxonomies) != 1 || !ValidLevel(rep.Verdict()) {
			t.Fatalf("%+v", rep)
		}
	})
}

package abuseemu

import (
	"encoding/json"
	"net/http"
	"testing"
)

func check(t *testing.T, s *Server, query, key string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.BaseURL+"/check?"+query, nil)
	req.Header.Set("Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, v
}

func TestCheck(t *testing.T) {
	s := Start("k")
	defer s.Close()
	s.Add("118.25.6.39", Record{Score: 100, CountryCode: "CN", ISP: "Tencent Cloud Computing (Beijing) Co. Ltd", TotalReports: 1})
	st, v := check(t, s, "ipAddress=118.25.6.39&maxAgeInDays=90", "k")
	d, _ := v["data"].(map[string]any)
	if st != 200 || d["abuseConfidenceScore"] != 100.0 || d["countryCode"] != "CN" || d["ipVersion"] != 4.0 {
		t.Errorf("%d %v", st, v)
	}
	if st, v = check(t, s, "ipAddress=118.25.6.39", "bad"); st != 401 || v["errors"] == nil {
		t.Errorf("bad key: %d %v", st, v)
	}
	if st, _ = check(t, s, "ipAddress=nope", "k"); st != 422 {
		t.Errorf("bad ip: %d", st)
	}
	if st, _ = check(t, s, "ipAddress=1.2.3.4&maxAgeInDays=400", "k"); st != 422 {
		t.Errorf("bad age: %d", st)
	}
	s.Fail(1, 429, "60")
	if st, _ = check(t, s, "ipAddress=1.2.3.4", "k"); st != 429 {
		t.Errorf("fail: %d", st)
	}
	if s.Requests() != 5 {
		t.Errorf("requests %d", s.Requests())
	}
}

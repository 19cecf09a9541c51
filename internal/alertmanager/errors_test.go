package alertmanager

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWriteError(t *testing.T) {
	msg := `bad matcher "a=~\"(\"": invalid regular expression`
	rec := httptest.NewRecorder()
	WriteError(rec, http.StatusBadRequest, msg)
	if rec.Code != http.StatusBadRequest {
		t.Errorf("status = %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type = %q", ct)
	}
	// amtool's client decodes the body as a JSON string.
	var got string
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got != msg {
		t.Errorf("body %q decodes to %q, %v", rec.Body.String(), got, err)
	}
	spec := readTestdata(t, "api_v2_openapi.yaml")
	if err := ValidateAgainstSpec(spec, "#/responses/BadRequest/schema", rec.Body.Bytes()); err != nil {
		t.Errorf("error body fails the spec: %v", err)
	}
}

package alert

import (
	"errors"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/validation"
)

// TestIncidentLimits holds Incident.Normalize to the limits the OpenAPI
// document gives IncidentInput; the source had none.
func TestIncidentLimits(t *testing.T) {
	valid := func() Incident { return Incident{Source: "sentinel", SourceID: "inc-1", Title: "Account compromise"} }
	tests := []struct {
		name  string
		set   func(*Incident)
		field string // "" when Normalize must accept it
	}{
		{"valid", func(*Incident) {}, ""},
		{"source at 64", func(in *Incident) { in.Source = strings.Repeat("s", MaxSource) }, ""},
		{"source over 64", func(in *Incident) { in.Source = strings.Repeat("s", MaxSource+1) }, "source"},
		{"source over 64 after trimming", func(in *Incident) { in.Source = " " + strings.Repeat("S", MaxSource+1) + " " }, "source"},
		{"source trimmed to 64", func(in *Incident) { in.Source = "  " + strings.Repeat("s", MaxSource) + "  " }, ""},
		{"blank source", func(in *Incident) { in.Source = "  " }, "source"},
		{"source id over 512", func(in *Incident) { in.SourceID = strings.Repeat("i", MaxSourceID+1) }, "source_id"},
		{"title over 512", func(in *Incident) { in.Title = strings.Repeat("t", MaxTitle+1) }, "title"},
		{"description over 32 KiB", func(in *Incident) { in.Description = strings.Repeat("d", MaxDescription+1) }, "description"},
		{"over 1000 alerts", func(in *Incident) { in.AlertRefs = make([]string, 1001) }, "alerts"},
		{"alert ref at 512", func(in *Incident) { in.AlertRefs = []string{strings.Repeat("r", MaxSourceID)} }, ""},
		{"alert ref over 512", func(in *Incident) { in.AlertRefs = []string{"a", strings.Repeat("r", MaxSourceID+1)} }, "alerts[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := valid()
			tt.set(&in)
			err := in.Normalize(now)
			var fe *validation.FieldError
			switch {
			case tt.field == "" && err != nil:
				t.Errorf("got %v, want accepted", err)
			case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
				t.Errorf("got %v, want a field error on %s", err, tt.field)
			}
		})
	}
}

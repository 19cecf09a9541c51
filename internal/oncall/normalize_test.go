package oncall

import (
	"errors"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

func TestNormalizeErrors(t *testing.T) {
	good := func() Schedule {
		l := Rotation{Type: TypeDaily, Participants: []string{"a"}}
		l.SetWallStart(2027, 1, 1, 9, 0)
		return Schedule{Name: "s", TimeZone: "Europe/Helsinki", Layers: []Rotation{l, l}}
	}
	t0, t1 := utc("2027-01-01T00:00:00Z"), utc("2027-01-02T00:00:00Z")
	tests := []struct {
		name  string
		edit  func(*Schedule)
		field string
	}{
		{"valid", func(*Schedule) {}, ""},
		{"name", func(s *Schedule) { s.Name = " " }, "name"},
		{"schedule zone", func(s *Schedule) { s.TimeZone = "Mars/Olympus" }, "time_zone"},
		{"layer zone", func(s *Schedule) { s.Layers[1].TimeZone = "Nowhere" }, "layers[1].time_zone"},
		{"type", func(s *Schedule) { s.Layers[1].Type = "fortnightly" }, "layers[1].type"},
		{"type missing", func(s *Schedule) { s.Layers[0].Type = "" }, "layers[0].type"},
		{"shift length", func(s *Schedule) { s.Layers[0].ShiftLength = -2 }, "layers[0].shift_length"},
		{"start", func(s *Schedule) { s.Layers[1].Start = time.Time{} }, "layers[1].start"},
		{"participants", func(s *Schedule) { s.Layers[1].Participants = nil }, "layers[1].participants"},
		{"participant empty", func(s *Schedule) { s.Layers[1].Participants = []string{"a", ""} }, "layers[1].participants[1]"},
		{"restriction day", func(s *Schedule) {
			s.Layers[0].Restrictions = []Restriction{{Days: []string{"mon", "funday"}, Start: "09:00", End: "17:00"}}
		}, "layers[0].restrictions[0].days[1]"},
		{"restriction end", func(s *Schedule) {
			s.Layers[0].Restrictions = []Restriction{{Start: "09:00", End: "25:00"}}
		}, "layers[0].restrictions[0].end"},
		{"duplicate layer name", func(s *Schedule) { s.Layers[0].Name, s.Layers[1].Name = "x", "x" }, "layers[1].name"},
		{"override kind", func(s *Schedule) { s.Overrides = []Override{{Kind: "swap", Start: t0, End: t1}} }, "overrides[0].kind"},
		{"add needs user", func(s *Schedule) { s.Overrides = []Override{{Kind: "add", Start: t0, End: t1}} }, "overrides[0].user"},
		{"remove needs replaces", func(s *Schedule) { s.Overrides = []Override{{Kind: "remove", Start: t0, End: t1}} }, "overrides[0].replaces"},
		{"replace needs replaces", func(s *Schedule) {
			s.Overrides = []Override{{Kind: "replace", User: "b", Start: t0, End: t1}}
		}, "overrides[0].replaces"},
		{"override period", func(s *Schedule) {
			s.Overrides = []Override{{Kind: "add", User: "b", Start: t1, End: t0}}
		}, "overrides[0].end"},
		{"temporary shift outside", func(s *Schedule) {
			s.Temporary = []Temporary{{Start: t0, End: t1, Shifts: []Shift{{User: "a", Start: t0, End: t1.Add(time.Hour)}}}}
		}, "temporary[0].shifts[0].start"},
		{"temporary shift user", func(s *Schedule) {
			s.Temporary = []Temporary{{Start: t0, End: t1, Shifts: []Shift{{Start: t0, End: t1}}}}
		}, "temporary[0].shifts[0].user"},
		{"temporary overlap", func(s *Schedule) {
			s.Temporary = []Temporary{{Start: t0, End: t1}, {Start: t0.Add(time.Hour), End: t1.Add(time.Hour)}}
		}, "temporary[1].start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good()
			tt.edit(&s)
			err := s.Normalize()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if s.Layers[0].Name != "Layer 1" || s.Layers[1].TimeZone != "Europe/Helsinki" || s.Layers[0].ShiftLength != 1 {
					t.Errorf("defaults not filled: %+v", s.Layers[0])
				}
				return
			}
			var fe *validation.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("error %v, want field %q", err, tt.field)
			}
			if len(s.OnCall(t0.Add(48*time.Hour))) != 0 {
				t.Error("an invalid schedule answers someone on call")
			}
		})
	}
}

package oncall

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

// Rotation types.
const (
	TypeHourly  = "hourly"
	TypeHours   = "hours"
	TypeDaily   = "daily"
	TypeWeekly  = "weekly"
	TypeMonthly = "monthly"
)

// Shift sources.
const (
	SourceRotation  = "rotation"
	SourceOverride  = "override"
	SourceTemporary = "temporary"
)

// Override kinds.
const (
	OverrideAdd     = "add"
	OverrideRemove  = "remove"
	OverrideReplace = "replace"
)

// Rotation is one layer of a schedule: ordered participants taking turns,
// handing off every ShiftLength units of Type from Start.
type Rotation struct {
	Name         string        `json:"name" yaml:"name"`
	Type         string        `json:"type" yaml:"type"`
	ShiftLength  int           `json:"shift_length,omitempty" yaml:"shift_length,omitempty"`
	Start        time.Time     `json:"start" yaml:"start"`
	TimeZone     string        `json:"time_zone" yaml:"time_zone"`
	Participants []string      `json:"participants" yaml:"participants"`
	Restrictions []Restriction `json:"restrictions,omitempty" yaml:"restrictions,omitempty"`

	startWall bool // Start holds wall-clock fields (in UTC) to read in TimeZone

	ready       bool
	loc         *time.Location
	first       time.Time // the first hand-off, as resolved
	hh, mm, ss  int       // hand-off wall clock
	anchorDay   int64     // day number of Start's local date
	anchorMonth int64     // year*12+month-1 of Start's local date
	anchorDom   int       // Start's local day of month
	stepDays    int64
	period      time.Duration
	windows     []window
}

// Restriction limits a layer to local clock windows on given weekdays, e.g.
// Days ["mon".."fri"], Start "09:00", End "17:00". No days means every day.
type Restriction struct {
	Days  []string `json:"days,omitempty" yaml:"days,omitempty"`
	Start string   `json:"start" yaml:"start"`
	End   string   `json:"end" yaml:"end"`
}

type window struct {
	days       [7]bool
	start, end int // seconds after local midnight
}

// Override changes who is on call for an absolute period.
type Override struct {
	Kind     string    `json:"kind" yaml:"kind"`
	User     string    `json:"user,omitempty" yaml:"user,omitempty"`
	Replaces string    `json:"replaces,omitempty" yaml:"replaces,omitempty"`
	Start    time.Time `json:"start" yaml:"start"`
	End      time.Time `json:"end" yaml:"end"`
}

// Temporary replaces the whole schedule in [Start, End) with its Shifts.
type Temporary struct {
	Start  time.Time `json:"start" yaml:"start"`
	End    time.Time `json:"end" yaml:"end"`
	Shifts []Shift   `json:"shifts" yaml:"shifts"`
}

// Schedule is layers plus overrides plus temporary schedules.
type Schedule struct {
	Name      string      `json:"name" yaml:"name"`
	TimeZone  string      `json:"time_zone" yaml:"time_zone"`
	Layers    []Rotation  `json:"layers" yaml:"layers"`
	Overrides []Override  `json:"overrides,omitempty" yaml:"overrides,omitempty"`
	Temporary []Temporary `json:"temporary,omitempty" yaml:"temporary,omitempty"`

	ready bool
}

// Shift is one person on call for [Start, End).
type Shift struct {
	User   string    `json:"user" yaml:"user"`
	Start  time.Time `json:"start" yaml:"start"`
	End    time.Time `json:"end" yaml:"end"`
	Layer  string    `json:"layer,omitempty" yaml:"layer,omitempty"` // layer name, for rotation shifts
	Source string    `json:"source,omitempty" yaml:"source,omitempty"`
}

// Layouts accepted for a Rotation's start without an offset: wall time in
// the rotation's TimeZone.
var wallLayouts = []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04"}

// UnmarshalJSON accepts Start as RFC 3339 or as local wall time; the latter
// can only be placed once TimeZone is known, which Normalize does.
func (r *Rotation) UnmarshalJSON(b []byte) error {
	type alias Rotation
	aux := struct {
		*alias
		Start string `json:"start"`
	}{alias: (*alias)(r)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return fmt.Errorf("decode rotation: %w", err)
	}
	r.Start, r.startWall, r.ready = time.Time{}, false, false
	if aux.Start == "" {
		return nil
	}
	if t, err := time.Parse(time.RFC3339Nano, aux.Start); err == nil {
		r.Start = t
		return nil
	}
	for _, layout := range wallLayouts {
		if t, err := time.Parse(layout, aux.Start); err == nil {
			r.Start, r.startWall = t, true
			return nil
		}
	}
	return validation.NewFieldError("start", "%q is neither RFC 3339 nor 2006-01-02T15:04 local time", aux.Start)
}

// SetWallStart sets Start as a wall time to be read in TimeZone (the same
// as decoding "2006-01-02T15:04"): only the clock fields of t are used.
func (r *Rotation) SetWallStart(y int, m time.Month, d, hh, mm int) {
	r.Start = time.Date(y, m, d, hh, mm, 0, 0, time.UTC)
	r.startWall, r.ready = true, false
}

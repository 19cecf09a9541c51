package amconfig

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func spec(t *testing.T, yamlSpec string) TimeSpec {
	t.Helper()
	cfg, err := Parse([]byte("route: {receiver: r}\nreceivers: [{name: r}]\ntime_intervals: [{name: i, time_intervals: [" + yamlSpec + "]}]\n"))
	if err != nil {
		t.Fatalf("%s: %v", yamlSpec, err)
	}
	return cfg.TimeIntervals[0].Specs[0]
}

func TestSpecWindow(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	d := func(y int, m time.Month, day, h, min int, loc *time.Location) time.Time {
		return time.Date(y, m, day, h, min, 0, 0, loc).UTC()
	}
	tests := []struct {
		spec       string
		start, end time.Time
		why        string
	}{
		{`{years: ['2027']}`, d(2027, 1, 1, 0, 0, time.UTC), d(2028, 1, 1, 0, 0, time.UTC), ""},
		{`{years: ['2027'], months: ['march:april']}`, d(2027, 3, 1, 0, 0, time.UTC), d(2027, 5, 1, 0, 0, time.UTC), ""},
		{`{years: ['2027'], months: [february], days_of_month: ['-2:-1']}`, d(2027, 2, 27, 0, 0, time.UTC), d(2027, 3, 1, 0, 0, time.UTC), ""},
		{`{years: ['2027'], months: [february], days_of_month: ['27:31']}`, d(2027, 2, 27, 0, 0, time.UTC), d(2027, 3, 1, 0, 0, time.UTC), ""}, // clamped
		{`{years: ['2027'], months: ['3'], days_of_month: ['14'], times: [{start_time: '01:30', end_time: '04:00'}], location: America/New_York}`,
			d(2027, 3, 14, 1, 30, ny), d(2027, 3, 14, 4, 0, ny), ""}, // across the DST change
		{`{years: ['2027'], months: [may], days_of_month: ['1'], times: [{start_time: '22:00', end_time: '24:00'}]}`,
			d(2027, 5, 1, 22, 0, time.UTC), d(2027, 5, 2, 0, 0, time.UTC), ""},
		{`{weekdays: [monday], years: ['2027']}`, time.Time{}, time.Time{}, "weekdays"},
		{`{months: [may]}`, time.Time{}, time.Time{}, "every year"},
		{`{years: ['2027:2028']}`, time.Time{}, time.Time{}, "every year"},
		{`{years: ['2027'], months: [may, july]}`, time.Time{}, time.Time{}, "several"},
		{`{years: ['2027'], months: ['may:june'], days_of_month: ['1']}`, time.Time{}, time.Time{}, "several months"},
		{`{years: ['2027'], months: [may], times: [{start_time: '01:00', end_time: '02:00'}]}`, time.Time{}, time.Time{}, "daily"},
		{`{years: ['2027'], location: Local}`, time.Time{}, time.Time{}, "Local"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			start, end, why := spec(t, tt.spec).window()
			if tt.why != "" {
				if !strings.Contains(why, tt.why) {
					t.Errorf("why = %q, want %q", why, tt.why)
				}
				return
			}
			if why != "" || !start.Equal(tt.start) || !end.Equal(tt.end) {
				t.Errorf("window = %v – %v (%s), want %v – %v", start, end, why, tt.start, tt.end)
			}
		})
	}
}

func TestSupportHours(t *testing.T) {
	tests := []struct {
		spec             string
		zone, start, end string
		days             []string
		lastMinute       bool
		why              string
	}{
		{`{weekdays: ['monday:friday'], times: [{start_time: '09:00', end_time: '17:00'}], location: Europe/Helsinki}`,
			"Europe/Helsinki", "09:00", "17:00", []string{"mon", "tue", "wed", "thu", "fri"}, false, ""},
		{`{weekdays: [sunday, 'tuesday:wednesday'], times: [{start_time: '18:00', end_time: '24:00'}]}`,
			"UTC", "18:00", "23:59", []string{"tue", "wed", "sun"}, true, ""},
		{`{weekdays: [saturday]}`, "UTC", "00:00", "23:59", []string{"sat"}, true, ""},
		{`{times: [{start_time: '08:00', end_time: '10:00'}]}`, "UTC", "08:00", "10:00", []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, false, ""},
		{`{days_of_month: ['1:7']}`, "", "", "", nil, false, "days of the month"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			ti := TimeInterval{Name: "i", Specs: []TimeSpec{spec(t, tt.spec)}}
			h, last, why := ti.supportHours()
			if tt.why != "" {
				if h != nil || !strings.Contains(why, tt.why) {
					t.Errorf("= %+v, %q; want refusal %q", h, why, tt.why)
				}
				return
			}
			if h == nil || h.TimeZone != tt.zone || h.Start != tt.start || h.End != tt.end || !slices.Equal(h.Days, tt.days) || last != tt.lastMinute {
				t.Errorf("= %+v (last minute %v, %s)", h, last, why)
			}
		})
	}
}

// Package oncall is the on-call schedule model: rotations (layers),
// overrides and temporary schedules, and the questions asked of them ("who
// is on call at t", "the shifts between a and b", "the next shifts") plus an
// iCalendar export. It is pure: no database, no HTTP, no wall clock; every
// answer is a function of the schedule and the times passed in.
//
// Call Normalize on a Schedule (or Rotation) before asking it anything: it
// validates (returning *validation.FieldError naming the field, such as
// "layers[1].participants"), fills defaults and precomputes the anchors the
// time arithmetic needs. Methods on a value that was not normalized
// successfully answer "no one".
//
// # Precedence
//
//   - Layers work as in PagerDuty: a later layer in Schedule.Layers takes
//     precedence wherever it has someone on call (after its restrictions);
//     earlier layers fill only the gaps. At most one layer contributes at
//     any instant.
//   - Overrides then apply on top, in list order: "replace" swaps Replaces
//     for User while Replaces is on call (no effect otherwise), "remove"
//     takes Replaces off, "add" puts User on call in addition.
//   - A temporary schedule replaces everything (layers and overrides) in its
//     [Start, End) window with its explicit shifts; outside its shifts in
//     that window no one is on call. Temporary schedules may not overlap.
//
// A rotation has no one on call before its first hand-off (Start); the
// first participant takes the shift that begins there.
//
// # Time zones and daylight saving time
//
// Daily, weekly and monthly rotations hand off in local wall time of the
// rotation's TimeZone: a 09:00 hand-off stays at 09:00 local across DST, so
// a daily shift that spans the change lasts 23 or 25 hours. The n-th
// hand-off is computed directly from calendar arithmetic (day numbers for
// daily/weekly, month numbers for monthly), never by walking from Start, so
// ShiftAt is O(1) however far from Start it is asked.
//
// Monthly rotations hand off on Start's day of month, clamped to the last
// day of shorter months, and the clamp is not carried over: a rotation
// starting Jan 31 hands off Feb 28 (29 in leap years), then Mar 31, Apr 30.
//
// "hourly" and "hours" rotations are absolute durations (ShiftLength × 60
// minutes), not wall time: in wall time an hourly shift in the spring gap
// would not exist and one in the repeated autumn hour would last two hours,
// which breaks the fair split of duty such rotations exist for. The cost is
// that an "every 12 hours from 08:00" rotation hands off at 09:00/21:00
// after a spring change; use a daily layer (or restrictions) to pin wall
// times.
//
// Local times that do not exist or exist twice are resolved by this
// package, not by time.Date (whose choice in those cases is documented as
// unspecified):
//
//   - a wall time in the spring-forward gap resolves to the first instant
//     after the gap, i.e. the moment of the change: a 03:30 hand-off in
//     Helsinki on the day clocks jump 03:00→04:00 happens at 04:00 EEST.
//     The shift before is not lengthened by the gap's fraction and the
//     hand-off is never skipped.
//   - a wall time in the repeated autumn hour resolves to its first
//     occurrence: 01:30 in New York on the day clocks fall back 02:00→01:00
//     is 01:30 EDT (05:30 UTC).
//
// (For the record, Go 1.26's time.Date puts 03:30 on the Helsinki spring
// day at 04:30 EEST, and picks the second occurrence of 03:30 on the
// Helsinki autumn day but the first of 01:30 in New York; TestLocalInstant
// logs these.)
//
// Restrictions are windows of local clock time on given weekdays, e.g.
// Mon–Fri 09:00–17:00; an End at or before Start runs past midnight into
// the next day (End equal to Start is a 24-hour window); the weekday is the
// one on which the window starts. Outside every window the layer has no one
// on call and lower layers show through. Window edges resolve through the
// same gap/overlap rules.
//
// # Timeline
//
// Schedule.Shifts returns the final, merged timeline clipped to [from, to):
// contiguous shifts, split wherever the set of people on call (with their
// layer and source) changes, one Shift per person per piece. Periods when
// no one is on call have no Shift.
//
// A normalized Schedule is read-only for its queries and safe for
// concurrent use.
//
// Rotation.Start decodes from JSON as RFC 3339 (an instant whose wall time
// in TimeZone is the hand-off time) or as "2006-01-02T15:04[:05]", read as
// wall time in TimeZone (from YAML, only as a timestamp; SetWallStart does
// the same from Go).
package oncall

package oncall

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	ics "github.com/arran4/golang-ical"
)

// ICS renders shifts as an RFC 5545 calendar: one VEVENT per shift, times
// in UTC (so no VTIMEZONE is needed and Outlook and Google agree), with a
// UID derived from calendar, user and start so that a refreshed feed
// updates events instead of duplicating them. now is the DTSTAMP.
func ICS(calName string, shifts []Shift, now time.Time) ([]byte, error) {
	cal := ics.NewCalendar()
	cal.SetProductId("-//vigil//on-call//EN")
	cal.SetVersion("2.0")
	cal.SetMethod(ics.MethodPublish)
	cal.SetName(calName)
	cal.SetXWRCalName(calName)
	for _, sh := range shifts {
		if !sh.End.After(sh.Start) {
			return nil, fmt.Errorf("ics: shift of %q at %s does not end after it starts", sh.User, sh.Start.Format(time.RFC3339))
		}
		ev := cal.AddEvent(shiftUID(calName, sh))
		ev.SetDtStampTime(now.UTC())
		ev.SetStartAt(sh.Start.UTC())
		ev.SetEndAt(sh.End.UTC())
		ev.SetSummary("On call: " + calName)
		desc := "On call: " + sh.User
		if sh.Layer != "" {
			desc += " (" + sh.Layer + ")"
		}
		if sh.Source != "" && sh.Source != SourceRotation {
			desc += " [" + sh.Source + "]"
		}
		ev.SetDescription(desc)
		// Not ics.ComponentPropertyExtended: v0.3.4 swaps TrimPrefix's
		// arguments and emits "X-X-".
		ev.AddProperty(ics.ComponentProperty("X-VIGIL-USER"), sh.User)
	}
	// RFC 5545 §3.1 requires CRLF line endings; the library defaults to LF.
	var b bytes.Buffer
	if err := cal.SerializeTo(&b, ics.WithNewLineWindows); err != nil {
		return nil, fmt.Errorf("ics: serialize: %w", err)
	}
	return b.Bytes(), nil
}

func shiftUID(calName string, sh Shift) string {
	h := sha256.New()
	for _, part := range []string{calName, sh.User, strconv.FormatInt(sh.Start.Unix(), 10)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16]) + "@vigil"
}

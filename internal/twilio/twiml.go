package twilio

import (
	"encoding/xml"
	"strconv"
	"strings"
)

// xmlDecl starts every TwiML document, as Twilio's helpers write it.
const xmlDecl = `<?xml version="1.0" encoding="UTF-8"?>`

// GatherTimeout is how many seconds a <Gather> waits for a key press.
const GatherTimeout = 10

// SayGather reads text and collects numDigits key presses, POSTed to
// action. When nothing is pressed the call falls through to repeatText (or
// "Goodbye.") and hangs up. numDigits < 1 leaves the attribute out, so
// the caller ends input with #.
func SayGather(text, action string, numDigits int, repeatText string) string {
	if repeatText == "" {
		repeatText = "Goodbye."
	}
	var b strings.Builder
	b.WriteString(xmlDecl)
	b.WriteString(`<Response><Gather action="`)
	b.WriteString(escape(action))
	b.WriteString(`" method="POST"`)
	if numDigits > 0 {
		b.WriteString(` numDigits="` + strconv.Itoa(numDigits) + `"`)
	}
	b.WriteString(` timeout="` + strconv.Itoa(GatherTimeout) + `"><Say>`)
	b.WriteString(escape(text))
	b.WriteString(`</Say></Gather><Say>`)
	b.WriteString(escape(repeatText))
	b.WriteString(`</Say></Response>`)
	return b.String()
}

// Say reads text and hangs up.
func Say(text string) string {
	return xmlDecl + `<Response><Say>` + escape(text) + `</Say></Response>`
}

// Message answers an inbound SMS with text; Message("") answers with no
// reply at all (an empty <Response/>), which Twilio accepts silently.
func Message(text string) string {
	if text == "" {
		return xmlDecl + `<Response/>`
	}
	return xmlDecl + `<Response><Message>` + escape(text) + `</Message></Response>`
}

// escape makes s safe in XML text and in a double-quoted attribute.
// Characters XML 1.0 forbids (most control characters) become U+FFFD,
// so a hostile alert title cannot make the TwiML unparseable.
func escape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // writes to a Builder never fail
	return b.String()
}

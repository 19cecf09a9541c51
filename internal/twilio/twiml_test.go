package twilio

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestTwiML(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"say", Say(`Alert "disk" <full> & more`),
			`<?xml version="1.0" encoding="UTF-8"?><Response><Say>Alert &#34;disk&#34; &lt;full&gt; &amp; more</Say></Response>`},
		{"message", Message("Page 1 acknowledged"),
			`<?xml version="1.0" encoding="UTF-8"?><Response><Message>Page 1 acknowledged</Message></Response>`},
		{"empty message", Message(""), `<?xml version="1.0" encoding="UTF-8"?><Response/>`},
		{"gather", SayGather("Press 1 to acknowledge.", "https://v.example/twilio/gather?p=1&t=x", 1, ""),
			`<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="https://v.example/twilio/gather?p=1&amp;t=x" method="POST" numDigits="1" timeout="10"><Say>Press 1 to acknowledge.</Say></Gather><Say>Goodbye.</Say></Response>`},
		{"gather repeat, no numDigits", SayGather("a", "https://h/", 0, "Again"),
			`<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="https://h/" method="POST" timeout="10"><Say>a</Say></Gather><Say>Again</Say></Response>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got  %s\nwant %s", tt.got, tt.want)
			}
			if err := xml.Unmarshal([]byte(tt.got), new(struct{})); err != nil {
				t.Errorf("not XML: %v", err)
			}
		})
	}
}

func TestTwiMLHostileText(t *testing.T) {
	// Control characters are not legal XML; they must not break the document.
	doc := SayGather("a\x00b\x1bc]]></Say>", "https://h/\"onx=", 1, "\x07")
	var r struct {
		Gather struct {
			Action string `xml:"action,attr"`
			Say    string `xml:"Say"`
		}
	}
	if err := xml.Unmarshal([]byte(doc), &r); err != nil {
		t.Fatalf("not XML: %v\n%s", err, doc)
	}
	if r.Gather.Action != `https://h/"onx=` || !strings.Contains(r.Gather.Say, "]]></Say>") {
		t.Errorf("round trip: %+v", r)
	}
}

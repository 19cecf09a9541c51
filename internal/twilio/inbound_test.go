package twilio

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/validation"
)

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// fieldOf returns the field a *validation.FieldError names, or "".
func fieldOf(err error) string {
	var fe *validation.FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return ""
}

func TestParseInbound(t *testing.T) {
	tests := []struct {
		name      string
		in        url.Values
		want      Inbound
		wantField string
	}{
		{"as Twilio sends", form("MessageSid", "SM1", "SmsSid", "SM1", "AccountSid", "AC1", "From", "+15550001", "To", "+15550002", "Body", "1a", "NumMedia", "0"),
			Inbound{MessageSID: "SM1", AccountSID: "AC1", From: "+15550001", To: "+15550002", Body: "1a"}, ""},
		{"legacy SmsSid", form("SmsSid", "SM2", "From", "+1", "To", "+2"), Inbound{MessageSID: "SM2", From: "+1", To: "+2"}, ""},
		{"no sid", form("From", "+1", "To", "+2"), Inbound{}, "MessageSid"},
		{"no from", form("MessageSid", "SM1", "To", "+2"), Inbound{}, "From"},
		{"no to", form("MessageSid", "SM1", "From", "+1"), Inbound{}, "To"},
		{"huge from", form("MessageSid", "SM1", "From", strings.Repeat("1", 500), "To", "+2"), Inbound{}, "From"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseInbound(tt.in)
			if f := fieldOf(err); f != tt.wantField || (err != nil) != (tt.wantField != "") {
				t.Fatalf("err = %v, want field %q", err, tt.wantField)
			}
			if got != tt.want {
				t.Errorf("got %+v", got)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name      string
		in        url.Values
		want      Status
		wantField string
	}{
		{"message delivered", form("MessageSid", "SM1", "MessageStatus", "delivered", "To", "+2", "SmsStatus", "delivered"),
			Status{SID: "SM1", Kind: KindMessage, Status: "delivered", To: "+2"}, ""},
		{"message undelivered", form("SmsSid", "SM1", "SmsStatus", "undelivered", "ErrorCode", "30003"),
			Status{SID: "SM1", Kind: KindMessage, Status: "undelivered", ErrorCode: "30003"}, ""},
		{"call completed", form("CallSid", "CA1", "CallStatus", "completed", "CallDuration", "42", "To", "+2"),
			Status{SID: "CA1", Kind: KindCall, Status: "completed", To: "+2", Duration: 42}, ""},
		{"call no-answer", form("CallSid", "CA1", "CallStatus", "no-answer"), Status{SID: "CA1", Kind: KindCall, Status: "no-answer"}, ""},
		{"neither", form("To", "+2"), Status{}, "MessageSid"},
		{"both", form("CallSid", "CA1", "MessageSid", "SM1", "CallStatus", "completed"), Status{}, "CallSid"},
		{"message without status", form("MessageSid", "SM1"), Status{}, "MessageStatus"},
		{"unknown message status", form("MessageSid", "SM1", "MessageStatus", "in-progress"), Status{}, "MessageStatus"},
		{"unknown call status", form("CallSid", "CA1", "CallStatus", "delivered"), Status{}, "CallStatus"},
		{"bad duration", form("CallSid", "CA1", "CallStatus", "completed", "CallDuration", "-1"), Status{}, "CallDuration"},
		{"bad error code", form("MessageSid", "SM1", "MessageStatus", "failed", "ErrorCode", "x"), Status{}, "ErrorCode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStatus(tt.in)
			if f := fieldOf(err); f != tt.wantField || (err != nil) != (tt.wantField != "") {
				t.Fatalf("err = %v, want field %q", err, tt.wantField)
			}
			if got != tt.want {
				t.Errorf("got %+v", got)
			}
		})
	}
}

func TestParseGather(t *testing.T) {
	tests := []struct {
		name      string
		in        url.Values
		want      Gather
		wantField string
	}{
		{"pressed 1", form("CallSid", "CA1", "From", "+1", "To", "+2", "Digits", "1", "CallStatus", "in-progress"), Gather{CallSID: "CA1", From: "+1", To: "+2", Digits: "1"}, ""},
		{"star and hash", form("CallSid", "CA1", "From", "+1", "To", "+2", "Digits", "*#0"), Gather{CallSID: "CA1", From: "+1", To: "+2", Digits: "*#0"}, ""},
		{"no digits", form("CallSid", "CA1", "From", "+1", "To", "+2"), Gather{}, "Digits"},
		{"letters", form("CallSid", "CA1", "From", "+1", "To", "+2", "Digits", "1a"), Gather{}, "Digits"},
		{"no call", form("From", "+1", "To", "+2", "Digits", "1"), Gather{}, "CallSid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseGather(tt.in)
			if f := fieldOf(err); f != tt.wantField || (err != nil) != (tt.wantField != "") {
				t.Fatalf("err = %v, want field %q", err, tt.wantField)
			}
			if got != tt.want {
				t.Errorf("got %+v", got)
			}
		})
	}
}

// fuzzForm turns raw fuzz input into a form the way net/http would.
func fuzzForm(raw string) url.Values {
	v, _ := url.ParseQuery(raw) // a partial parse is still a form to attack
	return v
}

func FuzzParseInbound(f *testing.F) {
	f.Add("MessageSid=SM1&AccountSid=AC1&From=%2B15550001&To=%2B15550002&Body=1a&NumMedia=0")
	f.Add("SmsSid=SM1&From=&To=%2B2")
	f.Fuzz(func(t *testing.T, raw string) {
		in, err := ParseInbound(fuzzForm(raw))
		if err != nil {
			if fieldOf(err) == "" {
				t.Fatalf("error is not a field error: %v", err)
			}
			return
		}
		if in.MessageSID == "" || in.From == "" || in.To == "" {
			t.Fatalf("accepted without required fields: %+v", in)
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	f.Add("MessageSid=SM1&MessageStatus=delivered&To=%2B2")
	f.Add("CallSid=CA1&CallStatus=completed&CallDuration=12")
	f.Add("MessageSid=SM1&SmsStatus=undelivered&ErrorCode=30003")
	f.Fuzz(func(t *testing.T, raw string) {
		s, err := ParseStatus(fuzzForm(raw))
		if err != nil {
			if fieldOf(err) == "" {
				t.Fatalf("error is not a field error: %v", err)
			}
			return
		}
		statuses := MessageStatuses
		if s.Kind == KindCall {
			statuses = CallStatuses
		}
		if s.SID == "" || !oneOf(s.Status, statuses) || s.Duration < 0 {
			t.Fatalf("accepted %+v", s)
		}
	})
}

func FuzzParseGather(f *testing.F) {
	f.Add("CallSid=CA1&From=%2B1&To=%2B2&Digits=1")
	f.Add("CallSid=CA1&From=%2B1&To=%2B2&Digits=%2A%23")
	f.Fuzz(func(t *testing.T, raw string) {
		g, err := ParseGather(fuzzForm(raw))
		if err != nil {
			if fieldOf(err) == "" {
				t.Fatalf("error is not a field error: %v", err)
			}
			return
		}
		if g.Digits == "" || strings.Trim(g.Digits, "0123456789*#") != "" {
			t.Fatalf("accepted digits %q", g.Digits)
		}
	})
}

func FuzzVerifyRequest(f *testing.F) {
	const public = "https://vigil.example/twilio/sms"
	f.Add("MessageSid=SM1&From=%2B1&To=%2B2&Body=1a", "", "application/x-www-form-urlencoded")
	f.Add("A=1&A=2", "Xm1o0Z9Jt2VwP2Y0bS3u3pQq5jE=", "application/x-www-form-urlencoded")
	f.Add(`{"a":1}`, "a9nBmqA0ju/hNViExpshrM61xv4=", "application/json")
	f.Add("%zz", "x", "")
	f.Fuzz(func(t *testing.T, body, sig, contentType string) {
		const token = "fuzz-token"
		r := httptest.NewRequest(http.MethodPost, "/twilio/sms", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		if sig != "" {
			r.Header.Set(SignatureHeader, sig)
		}
		v, err := VerifyRequest(r, token, public)
		if err == nil {
			// Only a signature made with the token may pass, so a random
			// header must never verify.
			if sig != Signature(token, public, v) && sig != Signature(token, "https://vigil.example:443/twilio/sms", v) {
				t.Fatalf("verified a forged signature %q for %q", sig, body)
			}
		}
		// The same request signed with the right token must verify (for
		// well-formed forms), proving the check is not just always-false.
		if form, perr := url.ParseQuery(body); perr == nil && len(body) <= MaxWebhookBody {
			r2 := httptest.NewRequest(http.MethodPost, "/twilio/sms", strings.NewReader(body))
			r2.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r2.Header.Set(SignatureHeader, Signature(token, public, form))
			if _, err := VerifyRequest(r2, token, public); err != nil {
				t.Fatalf("a correctly signed form was refused: %v", err)
			}
			r3 := httptest.NewRequest(http.MethodPost, "/twilio/sms", strings.NewReader(body))
			r3.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r3.Header.Set(SignatureHeader, Signature("not-"+token, public, form))
			if _, err := VerifyRequest(r3, token, public); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("another token's signature: err = %v", err)
			}
		}
	})
}

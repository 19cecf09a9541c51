package notify

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSMSText(t *testing.T) {
	page := samplePage(ContactMethod{ID: 3, Type: TypeSMS, Value: "+14155552345"})
	page.AckURL = "https://vigil.example/ack/abc.def"
	long := page
	long.Title = strings.Repeat("Ünïcode title ", 60)
	verify := Notification{Kind: KindVerify, Subject: "[vigil] Your verification code: 123456"}
	tests := []struct {
		name string
		n    Notification
		want []string
	}{
		{"page", page, []string{"vigil page 7 HIGH: ", page.Title, "Reply 7a to ack, 7c to close, 7e to escalate.", page.AckURL}},
		{"long title keeps the codes and the link", long, []string{"…", "Reply 7a", page.AckURL}},
		{"verification", verify, []string{"Your verification code: 123456"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SMSText(tt.n)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("SMSText = %q, want it to contain %q", got, w)
				}
			}
			if len(got) > maxSMS || !utf8.ValidString(got) {
				t.Errorf("SMSText is %d bytes (max %d) or not UTF-8: %q", len(got), maxSMS, got)
			}
		})
	}
}

func TestScript(t *testing.T) {
	page := samplePage(ContactMethod{ID: 3, Type: TypeVoice, Value: "+14155552345"})
	page.AckURL = "https://vigil.example/ack/tok.sig"
	s := Script(page)
	if !s.Gather || s.Token != "tok.sig" || !strings.Contains(s.Say, "Press 1 to acknowledge") || !strings.Contains(s.Say, page.Title) {
		t.Errorf("page script = %+v", s)
	}
	v := Script(Notification{Kind: KindVerify, Subject: "[vigil] Your verification code: 123456"})
	if v.Gather || !strings.Contains(v.Say, "1 2 3 4 5 6") {
		t.Errorf("verification script = %+v, want the digits one by one and no gather", v)
	}
}

type fakePhone struct {
	to, body string
	script   VoiceScript
	err      error
}

func (f *fakePhone) Name() string { return "fake" }
func (f *fakePhone) SendSMS(_ context.Context, to, body string) (Receipt, error) {
	f.to, f.body = to, body
	return Receipt{ProviderID: "SM1", Status: StatusSent}, f.err
}
func (f *fakePhone) Call(_ context.Context, to string, s VoiceScript) (Receipt, error) {
	f.to, f.script = to, s
	return Receipt{ProviderID: "CA1", Status: StatusSent}, f.err
}

func TestPhoneChannels(t *testing.T) {
	f := &fakePhone{}
	n := samplePage(ContactMethod{ID: 3, Type: TypeSMS, Value: "+14155552345"})
	r, err := NewSMS(f).Send(context.Background(), n)
	if err != nil || r.Provider != "fake" || r.ProviderID != "SM1" || f.to != "+14155552345" || !strings.Contains(f.body, "Reply 7a") {
		t.Errorf("sms: %+v %v, sent %q to %s", r, err, f.body, f.to)
	}
	f.err = errors.New("down")
	if _, err := NewVoice(f).Send(context.Background(), n); err == nil || !strings.Contains(err.Error(), "contact method 3") {
		t.Errorf("voice error = %v, want it to name the contact method", err)
	}
	for _, tt := range []struct {
		v  string
		ok bool
	}{{"+14155552345", true}, {"+358401234567", true}, {"14155552345", false}, {"+04155552345", false}, {"+1415", false}, {"+1415555234a", false}, {"+1234567890123456", false}} {
		if ValidPhone(tt.v) != tt.ok {
			t.Errorf("ValidPhone(%q) = %v", tt.v, !tt.ok)
		}
	}
}

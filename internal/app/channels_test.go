package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/notify"
)

// TestSMSGatewayChannel: with paging.sms_provider gateway, SMS contact
// methods are texted through the templated HTTP gateway, its secret
// header from the environment, and the gateway's id is the receipt's.
func TestSMSGatewayChannel(t *testing.T) {
	var got url.Values
	var auth string
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, _ = url.ParseQuery(string(b))
		auth = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"message_id":"gw-42","status":"queued"}`)
	}))
	defer gw.Close()
	cfg := config.Paging{SMSProvider: "gateway", SMSGateway: config.SMSGateway{Name: "regional", URL: gw.URL + "/send",
		BodyTemplate: "to={{urlquery .To}}&from={{urlquery .From}}&text={{urlquery .Body}}", From: "VIGIL",
		Resolved: map[string]string{"Authorization": "Bearer gw-secret"}, IDField: "message_id"}}
	chs, err := phoneChannels(cfg, "https://vigil.example", clock.Real{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var sms notify.Channel
	for _, ch := range chs {
		if ch.Type() == notify.TypeSMS {
			sms = ch
		}
	}
	if sms == nil {
		t.Fatalf("no SMS channel among %d", len(chs))
	}
	n := notify.Notification{ID: "page-3.r0.s0.cm1.d0", Kind: notify.KindPage, PageID: 3, Title: "Impossible travel", Urgency: "high",
		To: notify.ContactMethod{ID: 1, Type: notify.TypeSMS, Value: "+358401234567"}, CreatedAt: time.Now()}
	r, err := sms.Send(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	if r.Provider != "regional" || r.ProviderID != "gw-42" || r.Status != notify.StatusSent {
		t.Errorf("receipt = %+v", r)
	}
	if got.Get("to") != "+358401234567" || got.Get("from") != "VIGIL" || got.Get("text") != notify.SMSText(n) || auth != "Bearer gw-secret" {
		t.Errorf("the gateway got %v with Authorization %q", got, auth)
	}
}

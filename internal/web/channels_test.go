package web_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/paging"
	"github.com/vigil-soc/vigil/internal/twilio"
	"github.com/vigil-soc/vigil/internal/web"
)

const (
	twilioToken  = "twilio auth token of the test"
	slackSecret  = "slack signing secret of the test"
	publicBase   = "https://vigil.example"
	twilioNumber = "+15550000000"
)

// channelEnv is oncallEnv with Twilio and Slack hooks live.
func channelEnv(t *testing.T) (*env, *paging.Pager) {
	t.Helper()
	var pager *paging.Pager
	e := newEnv(t, func(o *web.Options) {
		pager = paging.New(o.Store.(*pingStore).DB, o.Items, paging.Options{BaseURL: publicBase, Clock: o.Clock})
		o.Items.Observe(pager)
		o.Pager = pager
		o.Twilio = web.TwilioHooks{AuthToken: twilioToken, BaseURL: publicBase}
		o.Slack = web.SlackHooks{SigningSecret: slackSecret}
	})
	prepare = pager.Prepare
	return e, pager
}

// twilioPost sends a form to a Twilio hook as Twilio would, signed with
// token over the public URL.
func (e *env) twilioPost(t *testing.T, path string, form url.Values, token string) resp {
	t.Helper()
	sig := twilio.Signature(token, publicBase+path, form)
	return e.do(t, noAuth, "POST", path, form.Encode(), "Content-Type", "application/x-www-form-urlencoded", "X-Twilio-Signature", sig)
}

// slackPost sends an interaction as Slack would, signed at ts.
func (e *env) slackPost(t *testing.T, payload map[string]any, ts time.Time, secret string) resp {
	t.Helper()
	b, _ := json.Marshal(payload)
	body := url.Values{"payload": {string(b)}}.Encode()
	stamp := strconv.FormatInt(ts.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "v0:%s:%s", stamp, body)
	return e.do(t, noAuth, "POST", web.SlackInteractivityPath, body, "Content-Type", "application/x-www-form-urlencoded",
		"X-Slack-Request-Timestamp", stamp, "X-Slack-Signature", "v0="+hex.EncodeToString(m.Sum(nil)))
}

func blockAction(userID, actionID string, page int64, actionTS string) map[string]any {
	return map[string]any{"type": "block_actions", "user": map[string]any{"id": userID, "username": "ana", "name": "ana", "team_id": "T1"},
		"api_app_id": "A1", "container": map[string]any{"type": "message", "message_ts": "1712345678.000100", "channel_id": "C1"},
		"trigger_id": "1.2.3", "team": map[string]any{"id": "T1", "domain": "soc"}, "channel": map[string]any{"id": "C1", "name": "soc"},
		"response_url": "https://hooks.slack.com/actions/T1/1/x",
		"actions": []any{map[string]any{"action_id": actionID, "block_id": "vigil_actions", "value": strconv.FormatInt(page, 10),
			"type": "button", "action_ts": actionTS, "text": map[string]any{"type": "plain_text", "text": "Acknowledge"}}}}
}

// TestChannelHooksSigned: SMS replies, status callbacks, call key presses
// and Slack buttons act only when their provider's signature verifies,
// once; the notification log and test notifications over the API.
func TestChannelHooksSigned(t *testing.T) {
	e, pager := channelEnv(t)
	sms := addVerified(t, e, alice, notify.TypeSMS, "+1 (555) 000-1111")
	slackCM := addVerified(t, e, alice, notify.TypeSlack, "U024BE7LH")
	e.do(t, admin, "PUT", "/api/v1/oncall/policies/p", map[string]any{"name": "p", "steps": []any{
		map[string]any{"delay_minutes": 5, "targets": []any{map[string]any{"type": "user", "name": alice}}}}}).wantCode(t, http.StatusCreated)
	e.do(t, admin, "PUT", "/api/v1/oncall/services/s", map[string]any{"name": "s", "policy": "p", "urgency": "high"}).wantCode(t, http.StatusCreated)
	var pages []int64
	for i := range 3 {
		a := e.ingest(t, alertBody(fmt.Sprintf("Phone %d", i), map[string]any{"source_id": fmt.Sprintf("ph-%d", i)}))
		var p struct {
			ID int64 `json:"id"`
		}
		e.do(t, responder, "POST", "/api/v1/pages", map[string]any{"workitem_id": a.Results[0].WorkItemID, "service": "s"}).
			wantCode(t, http.StatusCreated).decode(t, &p)
		pages = append(pages, p.ID)
	}

	// Test notifications: one a minute per method.
	e.do(t, admin, "POST", fmt.Sprintf("/api/v1/contact-methods/%d/test", sms.ID), nil).wantCode(t, http.StatusAccepted)
	e.do(t, admin, "POST", fmt.Sprintf("/api/v1/contact-methods/%d/test", sms.ID), nil).wantCode(t, http.StatusConflict)

	// The page's SMS was sent as SM1; Twilio reports it delivered.
	_, ns := notifications(t, e)
	for _, n := range ns {
		if n.Kind == notify.KindPage && n.PageID == pages[0] && n.To.ID == sms.ID {
			if err := pager.RecordSend(t.Context(), n, notify.Receipt{Provider: "twilio", ProviderID: "SM1", Status: notify.StatusSent}, nil, false, time.Millisecond); err != nil {
				t.Fatal(err)
			}
		}
	}
	status := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}, "AccountSid": {"AC1"}, "To": {"+15550001111"}}
	e.do(t, noAuth, "POST", web.TwilioStatusPath, status.Encode(), "Content-Type", "application/x-www-form-urlencoded").wantCode(t, http.StatusUnauthorized)
	e.twilioPost(t, web.TwilioStatusPath, status, "wrong token").wantCode(t, http.StatusForbidden)
	e.twilioPost(t, web.TwilioStatusPath, status, twilioToken).wantCode(t, http.StatusNoContent)
	e.twilioPost(t, web.TwilioStatusPath, url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"exploded"}}, twilioToken).wantCode(t, http.StatusBadRequest)
	var log struct {
		Notifications []struct {
			ProviderID string `json:"provider_id"`
			Status     string `json:"status"`
		} `json:"notifications"`
	}
	e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/pages/%d/notifications", pages[0]), nil).wantCode(t, http.StatusOK).decode(t, &log)
	if len(log.Notifications) != 1 || log.Notifications[0].ProviderID != "SM1" || log.Notifications[0].Status != notify.StatusDelivered {
		t.Errorf("page %d's notification log = %+v, want SM1 delivered", pages[0], log.Notifications)
	}
	e.do(t, viewer, "GET", "/api/v1/users/"+alice+"/notifications", nil).wantCode(t, http.StatusOK).decode(t, &log)
	if len(log.Notifications) != 1 {
		t.Errorf("alice's notification log = %+v", log.Notifications)
	}

	// An SMS reply acknowledges; the same message again is a replay.
	reply := url.Values{"MessageSid": {"SMin1"}, "AccountSid": {"AC1"}, "From": {"+15550001111"}, "To": {twilioNumber},
		"Body": {fmt.Sprintf("%da", pages[0])}, "NumMedia": {"0"}}
	r := e.twilioPost(t, web.TwilioSMSPath, reply, twilioToken).wantCode(t, http.StatusOK)
	if !strings.Contains(string(r.body), fmt.Sprintf("acknowledged page %d", pages[0])) || !strings.HasPrefix(r.hdr.Get("Content-Type"), "text/xml") {
		t.Errorf("reply answer: %s %s", r.hdr.Get("Content-Type"), r.body)
	}
	e.twilioPost(t, web.TwilioSMSPath, reply, twilioToken).wantCode(t, http.StatusForbidden)
	bad := url.Values{"MessageSid": {"SMin2"}, "To": {twilioNumber}, "Body": {"1a"}}
	wantField(t, e.twilioPost(t, web.TwilioSMSPath, bad, twilioToken), "From")
	unknown := url.Values{"MessageSid": {"SMin3"}, "From": {"+15550001111"}, "To": {twilioNumber}, "Body": {"987654a"}}
	if r := e.twilioPost(t, web.TwilioSMSPath, unknown, twilioToken).wantCode(t, http.StatusOK); !strings.Contains(string(r.body), "does not exist") {
		t.Errorf("a reply naming an unknown page: %s", r.body)
	}

	// A key pressed on a call escalates page 2; the same press again is refused.
	token, err := pager.LinkToken(t.Context(), pages[1], alice)
	if err != nil {
		t.Fatal(err)
	}
	press := url.Values{"CallSid": {"CA1"}, "AccountSid": {"AC1"}, "From": {twilioNumber}, "To": {"+15550001111"}, "Digits": {"2"}, "CallStatus": {"in-progress"}}
	path := web.TwilioVoicePath + "?t=" + url.QueryEscape(token)
	if r := e.twilioPost(t, path, press, twilioToken).wantCode(t, http.StatusOK); !strings.Contains(string(r.body), "escalated page") {
		t.Errorf("pressing 2: %s", r.body)
	}
	e.twilioPost(t, path, press, twilioToken).wantCode(t, http.StatusForbidden)

	// A Slack button acknowledges page 3 as alice.
	now := e.clk.Now()
	e.slackPost(t, blockAction("U024BE7LH", "vigil_ack", pages[2], "1.1"), now, "wrong").wantCode(t, http.StatusForbidden)
	e.slackPost(t, blockAction("U024BE7LH", "vigil_ack", pages[2], "1.2"), now.Add(-10*time.Minute), slackSecret).wantCode(t, http.StatusForbidden)
	r = e.slackPost(t, blockAction("U024BE7LH", "vigil_ack", pages[2], "1.3"), now, slackSecret).wantCode(t, http.StatusOK)
	if !strings.Contains(string(r.body), fmt.Sprintf("acknowledged page %d", pages[2])) {
		t.Errorf("the Slack button's answer: %s", r.body)
	}
	e.slackPost(t, blockAction("U024BE7LH", "vigil_ack", pages[2], "1.3"), now, slackSecret).wantCode(t, http.StatusForbidden)
	wantField(t, e.slackPost(t, blockAction("U024BE7LH", "vigil_explode", pages[2], "1.4"), now, slackSecret), "payload.actions.action_id")
	_ = slackCM

	var pg struct {
		State string `json:"state"`
		AckBy string `json:"ack_by"`
	}
	for _, id := range []int64{pages[0], pages[2]} {
		e.do(t, viewer, "GET", fmt.Sprintf("/api/v1/pages/%d", id), nil).wantCode(t, http.StatusOK).decode(t, &pg)
		if pg.State != "acknowledged" || pg.AckBy != alice {
			t.Errorf("page %d = %+v, want acknowledged by alice", id, pg)
		}
	}
}

package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/notify"
	"github.com/vigil-soc/vigil/internal/ntfy"
	"github.com/vigil-soc/vigil/internal/slack"
	"github.com/vigil-soc/vigil/internal/smshttp"
	"github.com/vigil-soc/vigil/internal/teams"
	"github.com/vigil-soc/vigil/internal/twilio"
	"github.com/vigil-soc/vigil/internal/web"
)

// phoneChannels builds the channels past email and webhooks from
// configuration: SMS and voice (Twilio, or an HTTP gateway for SMS),
// Slack, Teams and ntfy. A channel that is not configured is absent, and
// its contact methods' notifications fail visibly.
func phoneChannels(cfg config.Paging, base string, clk clock.Clock, log *slog.Logger) ([]notify.Channel, error) {
	var chs []notify.Channel
	hc := &http.Client{Timeout: 10 * time.Second}
	var tw *twilio.Client
	if cfg.Twilio.AccountSID != "" {
		tw = twilio.New(twilio.Config{BaseURL: cfg.Twilio.APIURL, AccountSID: cfg.Twilio.AccountSID, AuthToken: cfg.Twilio.AuthToken,
			From: cfg.Twilio.From, HTTPClient: hc})
		chs = append(chs, notify.NewVoice(twilioVoice{c: tw, base: base}))
	}
	switch {
	case cfg.SMSProvider == "gateway":
		p, err := smsGateway(cfg.SMSGateway, hc, clk)
		if err != nil {
			return nil, err
		}
		chs = append(chs, notify.NewSMS(p))
	case tw != nil:
		chs = append(chs, notify.NewSMS(twilioSMS{c: tw, base: base}))
	}
	if cfg.Slack.Enabled() {
		chs = append(chs, slack.NewChannel(slack.New(slack.Config{APIURL: cfg.Slack.APIURL, BotToken: cfg.Slack.BotToken, HTTPClient: hc, Now: clk.Now})))
	}
	if len(cfg.Teams.Webhooks) > 0 {
		hooks := cfg.Teams.Webhooks
		chs = append(chs, teams.NewChannel(func(name string) (string, bool) {
			w, ok := hooks[name]
			return w.URL, ok
		}, hc, clk.Now))
	}
	if cfg.Ntfy.ServerURL != "" {
		chs = append(chs, ntfyChannel(cfg.Ntfy, hc, clk))
	}
	for _, ch := range chs {
		log.Info("paging: notification channel ready", "channel", ch.Type())
	}
	return chs, nil
}

// twilioSMS sends texts through Twilio, asking for status callbacks.
type twilioSMS struct {
	c    *twilio.Client
	base string
}

func (t twilioSMS) Name() string { return "twilio" }

func (t twilioSMS) SendSMS(ctx context.Context, to, body string) (notify.Receipt, error) {
	s, err := t.c.SendSMS(ctx, to, body, t.base+web.TwilioStatusPath)
	return notify.Receipt{Provider: "twilio", ProviderID: s.SID, Status: notify.StatusSent}, err
}

// twilioVoice places calls through Twilio with inline TwiML: the script
// is read, and a page's call gathers one digit, posted with the page's
// signed token.
type twilioVoice struct {
	c    *twilio.Client
	base string
}

func (t twilioVoice) Name() string { return "twilio" }

func (t twilioVoice) Call(ctx context.Context, to string, s notify.VoiceScript) (notify.Receipt, error) {
	twiml := twilio.Say(s.Say)
	if s.Gather && s.Token != "" {
		action := t.base + web.TwilioVoicePath + "?t=" + url.QueryEscape(s.Token)
		twiml = twilio.SayGather(s.Say, action, 1, "We did not get an answer. Goodbye.")
	}
	c, err := t.c.Call(ctx, to, twiml, t.base+web.TwilioStatusPath)
	return notify.Receipt{Provider: "twilio", ProviderID: c.SID, Status: notify.StatusSent}, err
}

// smsGateway is the templated HTTP SMS provider of paging.sms_gateway.
func smsGateway(g config.SMSGateway, hc *http.Client, clk clock.Clock) (notify.SMSProvider, error) {
	p, err := smshttp.New(smshttp.Config{Name: g.Name, URL: g.URL, Method: g.Method, Headers: g.Resolved, ContentType: g.ContentType,
		BodyTemplate: g.BodyTemplate, From: g.From, Success: g.Success, IDField: g.IDField, HTTPClient: hc, Now: clk.Now})
	if err != nil {
		return nil, fmt.Errorf("paging.sms_gateway: %w", err)
	}
	return p, nil
}

func ntfyChannel(n config.Ntfy, hc *http.Client, clk clock.Clock) notify.Channel {
	return ntfy.NewChannel(ntfy.Config{ServerURL: n.ServerURL, Token: n.Token, HTTPClient: hc, Now: clk.Now})
}

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPagingConfig: the paging section loads, with the SMTP password from
// the environment, defaults, and the Sentinel owner list; bad entries name
// the key.
func TestPagingConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := Load(write(`paging:
  base_url: https://vigil.example.com/
  smtp: {host: smtp.example.com, port: 587, username: vigil, password_env: SMTP_PW, from: pager@example.com}
  self_service: vigil-itself
  sentinel_owners: ["Ana@Example.com = ana@contoso.onmicrosoft.com"]
`), []string{"SMTP_PW=s3cret"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := c.Paging
	if p.BaseURL != "https://vigil.example.com" || p.SMTP.Password != "s3cret" || p.ConnectorFailureMinutes != 15 ||
		p.SentinelOwners["ana@example.com"] != "ana@contoso.onmicrosoft.com" {
		t.Errorf("paging = %+v", p)
	}
	for _, tc := range []struct{ body, want string }{
		{"paging:\n  base_url: ftp://x\n", "paging.base_url"},
		{"paging:\n  smtp: {host: h}\n", "paging.smtp.from"},
		{"paging:\n  sentinel_owners: [nobody]\n", "paging.sentinel_owners[0]"},
		{"paging:\n  smtp: {host: h, from: a@b, password_env: NOPE}\n", "NOPE"},
		{"paging:\n  colour: red\n", "paging.colour"},
	} {
		if _, err := Load(write(tc.body), nil, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want one naming %s", tc.body, err, tc.want)
		}
	}
}

// TestChannelsConfig: Twilio, Slack, Teams, ntfy and an SMS gateway load
// with their secrets from the environment or files; each mistake names
// its key, and no secret shows in an error.
func TestChannelsConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tokenFile := write("twilio", "tw-s3cret\n")
	env := []string{"SLACK_BOT=xoxb-1", "SLACK_SIGN=sign-s3cret", "TEAMS_SOC=https://prod.example.logic.azure.com/workflows/1?sig=teams-s3cret", "NTFY=tk", "GW=Bearer gw-s3cret"}
	c, err := Load(write("c.yaml", `paging:
  twilio: {account_sid: AC1, auth_token_file: `+tokenFile+`, from: "+15005550006"}
  slack: {bot_token_env: SLACK_BOT, signing_secret_env: SLACK_SIGN}
  teams:
    webhooks:
      soc-channel: {url_env: TEAMS_SOC}
  ntfy: {server_url: "https://ntfy.example.com/", token_env: NTFY}
  sms_gateway:
    url: https://sms.example.net/send
    body_template: "to={{urlquery .To}}&text={{urlquery .Body}}"
    secret_headers_env: {Authorization: GW}
    headers: {X-Client: vigil}
  rate_limits: {sms: "1/1m", voice: "off"}
`), env, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := c.Paging
	if p.Twilio.AuthToken != "tw-s3cret" || p.Twilio.APIURL != "https://api.twilio.com" || p.SMSProvider != "twilio" {
		t.Errorf("twilio = %+v, sms provider %q", p.Twilio, p.SMSProvider)
	}
	if !p.Slack.Enabled() || p.Slack.SigningSecret != "sign-s3cret" || p.Slack.APIURL != "https://slack.com/api" {
		t.Errorf("slack = %+v", p.Slack)
	}
	if p.Teams.Webhooks["soc-channel"].URL == "" || p.Ntfy.ServerURL != "https://ntfy.example.com" || p.Ntfy.Token != "tk" {
		t.Errorf("teams = %+v, ntfy = %+v", p.Teams, p.Ntfy)
	}
	if g := p.SMSGateway; g.Name != "sms-gateway" || g.Resolved["Authorization"] != "Bearer gw-s3cret" || g.Resolved["X-Client"] != "vigil" {
		t.Errorf("sms gateway = %+v", g)
	}
	if p.RateLimits["sms"] != "1/1m" || p.RateLimits["voice"] != "off" {
		t.Errorf("rate limits = %v", p.RateLimits)
	}
	for _, tc := range []struct{ body, want string }{
		{"paging:\n  twilio: {from: \"+1\"}\n", "paging.twilio.account_sid"},
		{"paging:\n  twilio: {account_sid: AC1, from: \"+1\"}\n", "auth_token"},
		{"paging:\n  twilio: {account_sid: AC1, auth_token_env: TW, auth_token_file: x, from: \"+1\"}\n", "not both"},
		{"paging:\n  slack: {bot_token_env: SLACK_BOT}\n", "paging.slack"},
		{"paging:\n  teams:\n    webhooks:\n      Bad Name: {url_env: TEAMS_SOC}\n", "paging.teams.webhooks"},
		{"paging:\n  teams:\n    webhooks:\n      soc: {}\n", "paging.teams.webhooks.soc"},
		{"paging:\n  ntfy: {server_url: \"ntfy.example.com\"}\n", "paging.ntfy.server_url"},
		{"paging:\n  sms_provider: carrier-pigeon\n", "paging.sms_provider"},
		{"paging:\n  sms_provider: gateway\n", "paging.sms_gateway.url"},
	} {
		_, err := Load(write("bad.yaml", tc.body), append(env, "TW=x"), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want one naming %s", tc.body, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q: the error shows a secret: %v", tc.body, err)
		}
	}
}

package config

import (
	"fmt"
	"net/url"
	"strings"
)

// Paging configures on-call paging (the file's paging: section): where
// people reach vigil, for the links in notifications, and the SMTP server
// email goes through.
type Paging struct {
	// BaseURL is vigil's address as people reach it (https://vigil.example.com);
	// default http:// plus the listen address.
	BaseURL string `koanf:"base_url"`
	SMTP    SMTP   `koanf:"smtp"`
	Twilio  Twilio `koanf:"twilio"`
	Slack   Slack  `koanf:"slack"`
	Teams   struct {
		Webhooks map[string]TeamsWebhook `koanf:"webhooks"`
	} `koanf:"teams"`
	Ntfy       Ntfy       `koanf:"ntfy"`
	SMSGateway SMSGateway `koanf:"sms_gateway"`
	// SMSProvider sends SMS: twilio (the default when configured) or
	// gateway (paging.sms_gateway).
	SMSProvider string `koanf:"sms_provider"`
	// RateLimits replace a channel's limits per contact method, as
	// "N/duration" terms ("2/1m, 10/15m"), or "off".
	RateLimits map[string]string `koanf:"rate_limits"`
	// SelfService is the on-call service vigil pages about itself: a
	// connector failing for ConnectorFailureMinutes (default 15).
	SelfService             string `koanf:"self_service"`
	ConnectorFailureMinutes int    `koanf:"connector_failure_minutes"`
	// SentinelOwnerList maps a vigil user's email to the email or UPN
	// that Sentinel knows them by, as "vigil-email=sentinel-email"
	// entries, for users whose addresses differ. (A list, because an
	// email's dots would split a map's keys.) Users who sign in with
	// Entra ID are also known by their object id.
	SentinelOwnerList []string          `koanf:"sentinel_owners"`
	SentinelOwners    map[string]string `koanf:"-"`
}

// SMTP is the mail server for email notifications. No host: email
// contact methods get nothing, and their notifications fail visibly.
type SMTP struct {
	Host     string `koanf:"host"`
	Port     int    `koanf:"port"`
	Username string `koanf:"username"`
	// The password comes from an environment variable or a file, never
	// the config file itself.
	PasswordEnv  string `koanf:"password_env"`
	PasswordFile string `koanf:"password_file"`
	Password     string `koanf:"-"`
	From         string `koanf:"from"`
	// TLS is starttls (the default, mandatory), opportunistic, tls
	// (implicit, port 465) or none (loopback test servers only).
	TLS string `koanf:"tls"`
	// CAFile adds a CA to trust (a private mail relay's).
	CAFile string `koanf:"ca_file"`
}

// Twilio is the SMS and voice provider. No account: SMS and voice
// contact methods get nothing, and their notifications fail visibly.
type Twilio struct {
	AccountSID string `koanf:"account_sid"`
	// The auth token signs Twilio's requests to vigil and authenticates
	// vigil's to Twilio: from an environment variable or a file only.
	AuthTokenEnv  string `koanf:"auth_token_env"`
	AuthTokenFile string `koanf:"auth_token_file"`
	AuthToken     string `koanf:"-"`
	// From is the Twilio number messages and calls come from (E.164).
	From string `koanf:"from"`
	// APIURL is Twilio's REST API (default https://api.twilio.com); the
	// demo and tests point it at the emulator.
	APIURL string `koanf:"api_url"`
}

var pagingKeys = map[string]bool{}

func init() {
	for _, k := range []string{"base_url", "smtp.host", "smtp.port", "smtp.username", "smtp.password_env", "smtp.password_file",
		"smtp.from", "smtp.tls", "smtp.ca_file", "self_service", "connector_failure_minutes", "sentinel_owners",
		"twilio.account_sid", "twilio.auth_token_env", "twilio.auth_token_file", "twilio.from", "twilio.api_url"} {
		pagingKeys["paging."+k] = true
	}
}

func (p *Paging) resolve(environ []string) error {
	if p.BaseURL != "" {
		u, err := url.Parse(p.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("paging.base_url %q: want an http or https URL", p.BaseURL)
		}
		p.BaseURL = strings.TrimRight(p.BaseURL, "/")
	}
	s := &p.SMTP
	if s.PasswordEnv != "" && s.PasswordFile != "" {
		return fmt.Errorf("paging.smtp: set password_env or password_file, not both")
	}
	pw, err := secret("paging.smtp.password", s.PasswordEnv, s.PasswordFile, environ)
	if err != nil {
		return err
	}
	s.Password = pw
	p.SentinelOwners = map[string]string{}
	for i, e := range p.SentinelOwnerList {
		from, to, ok := strings.Cut(e, "=")
		from, to = strings.ToLower(strings.TrimSpace(from)), strings.TrimSpace(to)
		if !ok || !strings.Contains(from, "@") || !strings.Contains(to, "@") {
			return fmt.Errorf("paging.sentinel_owners[%d] %q: want vigil-email=sentinel-email", i, e)
		}
		p.SentinelOwners[from] = to
	}
	if p.ConnectorFailureMinutes < 0 {
		return fmt.Errorf("paging.connector_failure_minutes: must not be negative")
	}
	if p.ConnectorFailureMinutes == 0 {
		p.ConnectorFailureMinutes = 15
	}
	if s.Host != "" && s.From == "" {
		return fmt.Errorf("paging.smtp.from: required when paging.smtp.host is set")
	}
	if err := p.Twilio.resolve(environ); err != nil {
		return err
	}
	return p.resolveChannels(environ)
}

func (t *Twilio) resolve(environ []string) error {
	if t.AccountSID == "" {
		if t.AuthTokenEnv != "" || t.AuthTokenFile != "" || t.From != "" {
			return fmt.Errorf("paging.twilio.account_sid: required when any paging.twilio setting is set")
		}
		return nil
	}
	if t.AuthTokenEnv != "" && t.AuthTokenFile != "" {
		return fmt.Errorf("paging.twilio: set auth_token_env or auth_token_file, not both")
	}
	tok, err := secret("paging.twilio.auth_token", t.AuthTokenEnv, t.AuthTokenFile, environ)
	if err != nil {
		return err
	}
	if tok == "" {
		return fmt.Errorf("paging.twilio: auth_token_env or auth_token_file is required")
	}
	t.AuthToken = tok
	if t.From == "" {
		return fmt.Errorf("paging.twilio.from: required (the Twilio number, in E.164 form)")
	}
	if t.APIURL == "" {
		t.APIURL = "https://api.twilio.com"
	}
	u, err := url.Parse(t.APIURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("paging.twilio.api_url %q: want an http or https URL", t.APIURL)
	}
	t.APIURL = strings.TrimRight(t.APIURL, "/")
	return nil
}

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

var pagingKeys = map[string]bool{}

func init() {
	for _, k := range []string{"base_url", "smtp.host", "smtp.port", "smtp.username", "smtp.password_env", "smtp.password_file",
		"smtp.from", "smtp.tls", "smtp.ca_file", "self_service", "connector_failure_minutes", "sentinel_owners"} {
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
	return nil
}

package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// The notification channels beyond email and webhooks, in the file's
// paging: section. Every secret (tokens, signing secrets, the Teams
// webhook URLs, which carry their own signature) comes from an
// environment variable or a file, never the config file itself.

// Slack is a Slack app: its bot token posts and updates page messages,
// its signing secret verifies the buttons' interactivity requests.
type Slack struct {
	BotTokenEnv       string `koanf:"bot_token_env"`
	BotTokenFile      string `koanf:"bot_token_file"`
	BotToken          string `koanf:"-"`
	SigningSecretEnv  string `koanf:"signing_secret_env"`
	SigningSecretFile string `koanf:"signing_secret_file"`
	SigningSecret     string `koanf:"-"`
	// APIURL is Slack's Web API (default https://slack.com/api).
	APIURL string `koanf:"api_url"`
}

// Enabled reports whether a Slack app is configured.
func (s Slack) Enabled() bool { return s.BotToken != "" }

// TeamsWebhook is one Teams Workflows webhook ("When a Teams webhook
// request is received" → post a card in a chat or channel); a Teams
// contact method names it.
type TeamsWebhook struct {
	URLEnv  string `koanf:"url_env"`
	URLFile string `koanf:"url_file"`
	URL     string `koanf:"-"`
}

// Ntfy is an ntfy server for push notifications to phones.
type Ntfy struct {
	ServerURL string `koanf:"server_url"`
	TokenEnv  string `koanf:"token_env"`
	TokenFile string `koanf:"token_file"`
	Token     string `koanf:"-"`
}

// SMSGateway is any HTTP SMS gateway, described by a request template.
type SMSGateway struct {
	Name         string            `koanf:"name"`
	URL          string            `koanf:"url"`
	Method       string            `koanf:"method"`
	ContentType  string            `koanf:"content_type"`
	BodyTemplate string            `koanf:"body_template"`
	From         string            `koanf:"from"`
	Headers      map[string]string `koanf:"headers"`
	// SecretHeadersEnv names, per header, the environment variable its
	// value comes from (an API key).
	SecretHeadersEnv map[string]string `koanf:"secret_headers_env"`
	Success          []int             `koanf:"success"`
	IDField          string            `koanf:"id_field"`
	// Resolved holds Headers and the secret headers' values.
	Resolved map[string]string `koanf:"-"`
}

var teamsName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

func init() {
	for _, k := range []string{"slack.bot_token_env", "slack.bot_token_file", "slack.signing_secret_env", "slack.signing_secret_file",
		"slack.api_url", "ntfy.server_url", "ntfy.token_env", "ntfy.token_file", "sms_provider",
		"sms_gateway.name", "sms_gateway.url", "sms_gateway.method", "sms_gateway.content_type", "sms_gateway.body_template",
		"sms_gateway.from", "sms_gateway.success", "sms_gateway.id_field"} {
		pagingKeys["paging."+k] = true
	}
}

// channelPrefixes are the config keys that hold maps of the user's names.
var channelPrefixes = []string{"paging.rate_limits.", "paging.teams.webhooks.", "paging.sms_gateway.headers.", "paging.sms_gateway.secret_headers_env."}

func channelKey(key string) bool {
	for _, p := range channelPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

func (p *Paging) resolveChannels(environ []string) error {
	s := &p.Slack
	var err error
	if s.BotToken, err = secret("paging.slack.bot_token", s.BotTokenEnv, s.BotTokenFile, environ); err != nil {
		return err
	}
	if s.SigningSecret, err = secret("paging.slack.signing_secret", s.SigningSecretEnv, s.SigningSecretFile, environ); err != nil {
		return err
	}
	if (s.BotToken == "") != (s.SigningSecret == "") {
		return fmt.Errorf("paging.slack: set both the bot token and the signing secret, or neither")
	}
	if s.APIURL == "" {
		s.APIURL = "https://slack.com/api"
	}
	if err := httpURL("paging.slack.api_url", s.APIURL); err != nil {
		return err
	}
	for name, w := range p.Teams.Webhooks {
		key := "paging.teams.webhooks." + name
		if !teamsName.MatchString(name) {
			return fmt.Errorf("%s: a name is lower-case letters, digits, '-' and '_'", key)
		}
		if w.URL, err = secret(key+".url", w.URLEnv, w.URLFile, environ); err != nil {
			return err
		}
		if w.URL == "" {
			return fmt.Errorf("%s: url_env or url_file is required", key)
		}
		if err := httpURL(key+".url", w.URL); err != nil {
			return fmt.Errorf("%s: the URL does not parse as http(s)", key) // the URL itself is secret
		}
		p.Teams.Webhooks[name] = w
	}
	n := &p.Ntfy
	if n.Token, err = secret("paging.ntfy.token", n.TokenEnv, n.TokenFile, environ); err != nil {
		return err
	}
	if n.ServerURL != "" {
		if err := httpURL("paging.ntfy.server_url", n.ServerURL); err != nil {
			return err
		}
		n.ServerURL = strings.TrimRight(n.ServerURL, "/")
	}
	g := &p.SMSGateway
	if g.URL != "" {
		g.Resolved = map[string]string{}
		for h, v := range g.Headers {
			g.Resolved[h] = v
		}
		for h, env := range g.SecretHeadersEnv {
			v, err := secret("paging.sms_gateway.secret_headers_env."+h, env, "", environ)
			if err != nil {
				return err
			}
			g.Resolved[h] = v
		}
		if g.Name == "" {
			g.Name = "sms-gateway"
		}
	}
	switch p.SMSProvider {
	case "":
		if p.Twilio.AccountSID == "" && g.URL != "" {
			p.SMSProvider = "gateway"
		} else {
			p.SMSProvider = "twilio"
		}
	case "twilio", "gateway":
	default:
		return fmt.Errorf("paging.sms_provider %q: want twilio or gateway", p.SMSProvider)
	}
	if p.SMSProvider == "gateway" && g.URL == "" {
		return fmt.Errorf("paging.sms_provider is gateway, but paging.sms_gateway.url is not set")
	}
	return nil
}

func httpURL(key, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q: want an http or https URL", key, v)
	}
	return nil
}

package amconfig

import (
	"fmt"
	"net/url"
	"strings"
)

// receivers suggests, for each receiver's integrations, the vigil contact
// method or channel that replaces it. vigil notifies people (contact
// methods belong to users) through escalation policies, not receivers, so
// each suggestion says what the admin must set up.
func (m *mapper) receivers() {
	for _, rc := range m.cfg.Receivers {
		if !m.used[rc.Name] {
			m.note(rc.Path, "receiver %q is not used by any route; nothing was made for it", rc.Name)
			continue
		}
		policy := m.opts.Policy
		if policy == "" {
			policy = sanitize(rc.Name)
		}
		if len(rc.Configs) == 0 {
			m.note(rc.Path, "receiver %q notifies nobody (a null receiver); give policy %q a step anyway, or keep its services without a condition", rc.Name, policy)
		}
		for _, c := range rc.Configs {
			if what, ok := suggest(c, policy); ok {
				m.note(c.Path, "%s", what)
			} else {
				m.unmapped(c.Path, "%s", what)
			}
		}
	}
}

// suggest describes what replaces one integration; ok is false when vigil
// has no equivalent channel. Secrets (Slack and Teams webhook URLs, keys,
// passwords) are never repeated.
func suggest(c ReceiverConfig, policy string) (string, bool) {
	field := func(k string) string {
		s, _ := c.Fields[k].(string)
		return s
	}
	switch c.Kind {
	case "email":
		to := field("to")
		if to == "" {
			return "email: no `to`; add email contact methods for the people on policy " + quote(policy), true
		}
		return fmt.Sprintf("email to %s: vigil emails users through their email contact methods; make sure each address is a vigil user with an email contact method, then target those users (or a team of them) in policy %q", to, policy), true
	case "webhook":
		return fmt.Sprintf("webhook to %s: add a contact method of type webhook with this URL (its user, or a team, in policy %q); vigil's webhook body is its own page event, not Alertmanager's payload", redactURL(field("url")), policy), true
	case "slack":
		ch := field("channel")
		if ch == "" {
			ch = "the webhook's default channel"
		}
		return fmt.Sprintf("slack to %s: connect vigil's Slack app, then add a contact method of type slack with that channel's id (C…), not its name, to a user or team in policy %q", ch, policy), true
	case "msteams", "msteamsv2":
		return fmt.Sprintf("%s: configure its Teams Workflows webhook in vigil's configuration, then add a contact method of type teams naming it, for a user or team in policy %q", c.Kind, policy), true
	case "pagerduty":
		return fmt.Sprintf("pagerduty: vigil does the paging itself; define who is on call (schedules) and policy %q instead of forwarding to PagerDuty, or keep PagerDuty with a webhook contact method to its Events API", policy), true
	}
	return fmt.Sprintf("%s_configs: vigil has no %s channel; use a webhook contact method to a bridge, or notify people by email, SMS, voice, Slack, Teams or ntfy", c.Kind, c.Kind), false
}

// redactURL keeps the scheme, host and path: query strings and user
// info often carry tokens.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "(the URL in the file)"
	}
	out := u.Scheme + "://" + u.Host + u.Path
	if u.RawQuery != "" || u.User != nil {
		out += " (credentials omitted)"
	}
	return out
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

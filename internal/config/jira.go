package config

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// JiraMirror mirrors work items to Jira Cloud issues (internal/connector/jira)
// and, with a webhook secret, takes state changes made in Jira back.
type JiraMirror struct {
	// URL is the site, e.g. https://your-domain.atlassian.net.
	URL string `koanf:"url"`
	// Email is the Atlassian account the API token belongs to.
	Email        string `koanf:"email"`
	APITokenEnv  string `koanf:"api_token_env"`
	APITokenFile string `koanf:"api_token_file"`
	APIToken     string `koanf:"-"`
	// Project is the key of the project issues are filed in, e.g. SEC.
	Project string `koanf:"project"`
	// IssueType names the type of new issues (default Task).
	IssueType string `koanf:"issue_type"`
	// States overrides, per vigil state, the Jira status the item's issue
	// is moved to; states left out keep the default (To Do, In Progress,
	// Done of Jira's default workflow).
	States map[string]string `koanf:"states"`
	// KeyPrefix starts the label that marks an item's issue (default
	// vigil, giving vigil-42); give each installation sharing a site its own.
	KeyPrefix string `koanf:"key_prefix"`
	// The webhook secret is the one saved on the Jira admin webhook that
	// calls POST /api/v1/webhooks/jira; without it the route is off.
	WebhookSecretEnv  string `koanf:"webhook_secret_env"`
	WebhookSecretFile string `koanf:"webhook_secret_file"`
	WebhookSecret     string `koanf:"-"`
	// AccountID is the Jira account id of Email's account. Webhooks for
	// changes made by it are vigil's own writes coming back, and are
	// ignored even when they arrive late (after the item moved on).
	AccountID string `koanf:"account_id"`
}

// jiraStates are the vigil states a states override may name: those the
// connector maps (internal/connector/jira).
var jiraStates = []string{"New", "Approved", "Active", "Verification", "Closed", "Removed"}

func init() {
	for _, k := range []string{"url", "email", "api_token_env", "api_token_file", "project", "issue_type", "key_prefix",
		"webhook_secret_env", "webhook_secret_file", "account_id"} {
		syncKeys["sync.jira."+k] = true
	}
	// koanf flattens the states map into one key per state.
	for _, s := range jiraStates {
		syncKeys["sync.jira.states."+s] = true
	}
}

// resolve reads the secrets and checks the section; errors name the key.
func (j *JiraMirror) resolve(environ []string) error {
	var errs []error
	tokenErr := error(nil)
	if j.APIToken, tokenErr = secret("sync.jira.api_token", j.APITokenEnv, j.APITokenFile, environ); tokenErr != nil {
		errs = append(errs, tokenErr)
	}
	var err error
	if j.WebhookSecret, err = secret("sync.jira.webhook_secret", j.WebhookSecretEnv, j.WebhookSecretFile, environ); err != nil {
		errs = append(errs, err)
	}
	if j.URL == "" {
		errs = append(errs, errors.New("sync.jira.url is required (https://your-domain.atlassian.net)"))
	} else if u, err := url.Parse(j.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("sync.jira.url %q: want an http(s) URL such as https://your-domain.atlassian.net", j.URL))
	} else if u.User != nil {
		errs = append(errs, errors.New("sync.jira.url: put the credentials in email and api_token_env/api_token_file, not in the URL"))
	}
	if j.Email == "" {
		errs = append(errs, errors.New("sync.jira.email is required: the Atlassian account the API token belongs to"))
	}
	if j.APIToken == "" && tokenErr == nil {
		errs = append(errs, errors.New("sync.jira.api_token: an API token (api_token_env or api_token_file) is required"))
	}
	if j.Project == "" {
		errs = append(errs, errors.New("sync.jira.project is required: a project key such as SEC"))
	} else if !jiraKey(j.Project) {
		errs = append(errs, fmt.Errorf("sync.jira.project %q: want a project key such as SEC", j.Project))
	}
	if j.IssueType == "" {
		j.IssueType = "Task"
	}
	if j.KeyPrefix == "" {
		j.KeyPrefix = "vigil"
	} else if !jiraKey(j.KeyPrefix) {
		errs = append(errs, fmt.Errorf("sync.jira.key_prefix %q: only letters, digits, '-', '_' and '.'", j.KeyPrefix))
	}
	names := make([]string, 0, len(j.States))
	for k := range j.States {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !slices.Contains(jiraStates, k) {
			errs = append(errs, fmt.Errorf("sync.jira.states.%s: not a vigil state; want one of %s", k, strings.Join(jiraStates, ", ")))
		} else if strings.TrimSpace(j.States[k]) == "" {
			errs = append(errs, fmt.Errorf("sync.jira.states.%s: the Jira status name is empty", k))
		}
	}
	return errors.Join(errs...)
}

// jiraKey reports whether s fits a Jira project key or a label: no spaces
// or punctuation a JQL string would need quoted.
func jiraKey(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return s != ""
}

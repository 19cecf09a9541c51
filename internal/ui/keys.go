package ui

import (
	"net/http"
	"net/url"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/store"
)

// keysData is the integration keys page.
type keysData struct {
	Keys    []store.IntegrationKey
	Sources []keySource
	// New is the key just created, shown once with how to use it.
	New *newKey
}

// keySource is one sender a key can be made for, as the form offers it.
type keySource struct{ Value, Label string }

var keySources = []keySource{
	{auth.SourceAlertmanager, "Prometheus / Alertmanager"},
	{auth.SourcePagerDuty, "PagerDuty Events v2 (routing key)"},
	{auth.SourceAzureMonitor, "Azure Monitor action group (webhook URL)"},
	{auth.SourceAPI, "vigil API (scripts, other senders)"},
}

// newKey is a created key's secret and where its sender puts it.
type newKey struct {
	store.IntegrationKey
	Secret string
	Base   string // this server's URL as the browser reached it
	Hook   string // the Azure Monitor webhook URL, key included
}

func (u *UI) adminKeys(w http.ResponseWriter, r *http.Request, v *view) {
	if v.Flash == "" {
		v.Flash = u.takeFlash(w, r).Text
	}
	u.renderKeys(w, r, v, http.StatusOK, nil)
}

func (u *UI) renderKeys(w http.ResponseWriter, r *http.Request, v *view, code int, created *newKey) {
	if !u.admin(w, r, v) {
		return
	}
	keys, err := u.o.Accounts.IntegrationKeys(r.Context(), v.Actor)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	v.Title, v.Nav = "Integration keys", "admin"
	v.Data = keysData{Keys: keys, Sources: keySources, New: created}
	u.render(w, code, "keys.html", v)
}

func (u *UI) adminCreateKey(w http.ResponseWriter, r *http.Request, v *view) {
	secret, k, err := u.o.Accounts.CreateIntegrationKey(r.Context(), v.Actor, r.PostFormValue("name"), r.PostFormValue("source"))
	if err != nil {
		code, msg := errorStatus(err)
		if code >= 500 {
			u.fail(w, r, v, err)
			return
		}
		v.Error = msg
		u.renderKeys(w, r, v, code, nil)
		return
	}
	base := baseURL(r)
	// The secret is shown once, on this response, and never stored.
	v.Flash = "Created integration key " + k.Name + ". Copy it now: it will not be shown again."
	u.renderKeys(w, r, v, http.StatusOK, &newKey{IntegrationKey: k, Secret: secret, Base: base,
		Hook: base + "/api/v1/webhooks/azure-monitor?token=" + url.QueryEscape(secret)})
}

func (u *UI) adminRevokeKey(w http.ResponseWriter, r *http.Request, v *view) {
	id, err := pathID(r, "id")
	if err == nil {
		err = u.o.Accounts.RevokeIntegrationKey(r.Context(), v.Actor, id)
	}
	if err != nil {
		code, msg := errorStatus(err)
		if code >= 500 {
			u.fail(w, r, v, err)
			return
		}
		v.Error = msg
		u.renderKeys(w, r, v, code, nil)
		return
	}
	u.setFlash(w, r, flash{Text: "Revoked the key; its sender is refused from now on."})
	http.Redirect(w, r, "/admin/keys", http.StatusSeeOther)
}

// baseURL is this server's URL as the browser reached it, for the
// examples shown with a new key.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// OIDC configures optional OpenID Connect sign-in (the file's `oidc:`
// section; environment variables do not reach it). It is off unless
// issuer is set. As in the sync section, the client secret is named by an
// environment variable or a file and resolved into ClientSecret.
type OIDC struct {
	// Issuer is the provider's issuer URL, for Entra ID
	// https://login.microsoftonline.com/<tenant id>/v2.0. It must be https.
	Issuer           string `koanf:"issuer"`
	ClientID         string `koanf:"client_id"`
	ClientSecretEnv  string `koanf:"client_secret_env"`
	ClientSecretFile string `koanf:"client_secret_file"`
	ClientSecret     string `koanf:"-"`
	// RedirectURL is vigil's callback as registered with the provider.
	RedirectURL string `koanf:"redirect_url"`
	// RoleClaim is the ID-token claim with the user's app roles (default
	// "roles", Entra ID's app roles).
	RoleClaim string `koanf:"role_claim"`
	// App-role values that grant each vigil role (defaults vigil.admin,
	// vigil.responder, vigil.viewer).
	AdminRoles     []string `koanf:"admin_roles"`
	ResponderRoles []string `koanf:"responder_roles"`
	ViewerRoles    []string `koanf:"viewer_roles"`
	// DefaultRole is the role of a user with none of those app roles:
	// viewer, responder or admin; empty (the default) refuses them.
	DefaultRole string `koanf:"default_role"`
	// CAFile adds a CA to trust when talking to the provider (the
	// simulator's).
	CAFile string `koanf:"ca_file"`
}

// Enabled reports whether OpenID Connect sign-in is configured.
func (o OIDC) Enabled() bool { return o.Issuer != "" }

var oidcKeys = map[string]bool{}

func init() {
	for _, k := range []string{"issuer", "client_id", "client_secret_env", "client_secret_file", "redirect_url", "role_claim",
		"admin_roles", "responder_roles", "viewer_roles", "default_role", "ca_file"} {
		oidcKeys["oidc."+k] = true
	}
}

// resolve reads the client secret, fills the defaults and validates.
func (o *OIDC) resolve(environ []string) error {
	if !o.Enabled() {
		if o.ClientID != "" || o.ClientSecretEnv != "" || o.ClientSecretFile != "" || o.RedirectURL != "" {
			return errors.New("oidc: issuer is required when the oidc section is set")
		}
		return nil
	}
	var errs []error
	if u, err := url.Parse(o.Issuer); err != nil || u.Scheme != "https" || u.Host == "" {
		errs = append(errs, fmt.Errorf("oidc.issuer %q: want an https URL", o.Issuer))
	}
	if o.ClientID == "" {
		errs = append(errs, errors.New("oidc.client_id is required"))
	}
	if o.ClientSecretEnv != "" && o.ClientSecretFile != "" {
		errs = append(errs, errors.New("oidc: set client_secret_env or client_secret_file, not both"))
	}
	s, err := secret("oidc.client_secret", o.ClientSecretEnv, o.ClientSecretFile, environ)
	switch {
	case err != nil:
		errs = append(errs, err)
	case s == "":
		errs = append(errs, errors.New("oidc: a client secret is required (client_secret_env or client_secret_file)"))
	}
	o.ClientSecret = s
	if o.RedirectURL == "" {
		errs = append(errs, errors.New("oidc.redirect_url is required"))
	} else if u, err := url.Parse(o.RedirectURL); err != nil || u.Host == "" || u.Fragment != "" ||
		!(u.Scheme == "https" || (u.Scheme == "http" && isLoopbackHost(u.Hostname()))) {
		errs = append(errs, fmt.Errorf("oidc.redirect_url %q: want an https URL (http for localhost only), without a fragment", o.RedirectURL))
	}
	if o.RoleClaim == "" {
		o.RoleClaim = "roles"
	}
	if o.AdminRoles == nil {
		o.AdminRoles = []string{"vigil.admin"}
	}
	if o.ResponderRoles == nil {
		o.ResponderRoles = []string{"vigil.responder"}
	}
	if o.ViewerRoles == nil {
		o.ViewerRoles = []string{"vigil.viewer"}
	}
	seen := map[string]string{}
	for _, l := range []struct {
		key    string
		values []string
	}{{"admin_roles", o.AdminRoles}, {"responder_roles", o.ResponderRoles}, {"viewer_roles", o.ViewerRoles}} {
		for _, v := range l.values {
			switch {
			case strings.TrimSpace(v) == "":
				errs = append(errs, fmt.Errorf("oidc.%s: empty role value", l.key))
			case seen[v] != "":
				errs = append(errs, fmt.Errorf("oidc.%s: %q is also in %s", l.key, v, seen[v]))
			default:
				seen[v] = l.key
			}
		}
	}
	switch o.DefaultRole {
	case "", "viewer", "responder", "admin":
	default:
		errs = append(errs, fmt.Errorf("oidc.default_role %q: want viewer, responder, admin or empty (refuse users without a role)", o.DefaultRole))
	}
	if o.CAFile != "" {
		b, err := os.ReadFile(o.CAFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("oidc.ca_file: %w", err))
		} else if !x509.NewCertPool().AppendCertsFromPEM(b) {
			errs = append(errs, fmt.Errorf("oidc.ca_file %s: no PEM certificate in it", o.CAFile))
		}
	}
	return errors.Join(errs...)
}

func isLoopbackHost(h string) bool { return h == "localhost" || h == "127.0.0.1" || h == "::1" }

// String describes the section without its secret.
func (o OIDC) String() string {
	if !o.Enabled() {
		return "off"
	}
	return fmt.Sprintf("issuer=%s client_id=%s redirect_url=%s default_role=%q", o.Issuer, o.ClientID, o.RedirectURL, o.DefaultRole)
}

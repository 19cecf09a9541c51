package ui

import (
	"net/url"

	"github.com/vigil-soc/vigil/internal/account"
)

// Sign-in error codes, carried in /login?error=. The URL names a code,
// never the text: anyone can send a link to /login, and the sign-in page
// must not say anything vigil did not write ("your password expired,
// call +1 555…").
const (
	loginErrSSOUnavailable = "sso_unavailable"
	loginErrSSOExpired     = "sso_expired"
	loginErrSSOInvalid     = "sso_invalid"
	loginErrSSORefused     = "sso_refused"
	loginErrSSOFailed      = "sso_failed"
	loginErrAccountRefused = "account_refused"
	loginErrThrottled      = "throttled"
)

// loginErrors maps each code to the fixed message the page shows.
var loginErrors = map[string]string{
	loginErrSSOUnavailable: "single sign-on is unavailable right now; try again or sign in with a password",
	loginErrSSOExpired:     "the sign-in attempt expired; try again",
	loginErrSSOInvalid:     "the sign-in attempt is invalid; try again",
	loginErrSSORefused:     "the identity provider refused the sign-in; try again or ask an admin",
	loginErrSSOFailed:      "single sign-on failed; try again or ask an admin",
	loginErrAccountRefused: "your account may not sign in to vigil; ask an admin",
	loginErrThrottled:      account.ErrThrottled.Error(),
}

// loginErrorGeneric is shown for a code vigil does not know (an old or
// hand-made link).
const loginErrorGeneric = "sign-in failed; try again"

// loginErrorMessage is the message for code; "" when there is no code.
func loginErrorMessage(code string) string {
	if code == "" {
		return ""
	}
	if msg, ok := loginErrors[code]; ok {
		return msg
	}
	return loginErrorGeneric
}

// loginErrorURL is the sign-in page showing the message of code.
func loginErrorURL(code string) string {
	return "/login?" + url.Values{"error": {code}}.Encode()
}

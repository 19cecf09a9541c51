package ui

import (
	"net/http"

	"github.com/vigil-soc/vigil/internal/account"
)

// deviceCookie is the sign-in device cookie (account.DeviceLifetime;
// OWASP's "device cookies"): a browser that has signed in with a password
// keeps it, and its later sign-ins for the same email take the trusted
// lane, which a flood from other clients or a shared proxy address does
// not block. It is sent to /login only: no other page needs it.
const deviceCookie = "vigil_device"

// maxDeviceCookie bounds the value passed on; a real one is 76 bytes.
const maxDeviceCookie = 128

// presentedDevice returns the device cookie r carries, or "".
func presentedDevice(r *http.Request) string {
	c, err := r.Cookie(deviceCookie)
	if err != nil || len(c.Value) > maxDeviceCookie {
		return ""
	}
	return c.Value
}

// rememberDevice gives the browser that has just signed in as email a
// new device cookie. It outlives sign-out: it says that this browser has
// signed in before, and grants nothing by itself. Failing to make one
// costs the user only the trusted lane, so the sign-in goes on.
func (u *UI) rememberDevice(w http.ResponseWriter, r *http.Request, email string) {
	v, err := u.o.Accounts.IssueDevice(r.Context(), email)
	if err != nil {
		u.log.Warn("sign-in: no device cookie issued", "err", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: deviceCookie, Value: v, Path: "/login",
		MaxAge: int(account.DeviceLifetime.Seconds()), HttpOnly: true, Secure: u.secureRequest(r),
		SameSite: http.SameSiteLaxMode})
}

package ui

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
)

// A flash is the outcome of a form, shown once on the page the form
// redirects to ("Added ana@example.com as responder."). It travels in a
// short-lived cookie rather than in the URL: text taken from a URL would
// let any link make a vigil page say anything ("call this number"),
// whereas only vigil's own responses set the cookie.
const flashCookie = "vigil_flash"

// maxFlashLines keeps the cookie well under browsers' 4 KB: a bulk
// triage of 500 items could otherwise list 500 refusals.
const maxFlashLines = 20

type flash struct {
	Text  string   `json:"t,omitempty"`
	Lines []string `json:"l,omitempty"` // refusals, shown as a list
}

// setFlash stores f for the next page this browser loads.
func (u *UI) setFlash(w http.ResponseWriter, r *http.Request, f flash) {
	if n := len(f.Lines); n > maxFlashLines {
		f.Lines = append(f.Lines[:maxFlashLines-1:maxFlashLines-1], fmt.Sprintf("… and %d more", n-maxFlashLines+1))
	}
	b, err := json.Marshal(f)
	if err != nil {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString(b), Path: "/",
		MaxAge: 60, HttpOnly: true, Secure: u.secureRequest(r), SameSite: http.SameSiteStrictMode})
}

// takeFlash returns the pending flash, if any, and clears it.
func (u *UI) takeFlash(w http.ResponseWriter, r *http.Request) flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return flash{}
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: u.secureRequest(r), SameSite: http.SameSiteStrictMode})
	var f flash
	if b, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil {
		_ = json.Unmarshal(b, &f) // a damaged cookie shows nothing
	}
	return f
}

package alertmanager

import (
	"encoding/json"
	"net/http"
)

// WriteError answers with Alertmanager's error shape: the spec's error
// responses are `type: string`, so the body is a JSON string literal, which
// is what amtool's go-swagger client decodes. A JSON object would make
// amtool fail with a decode error instead of showing the message.
func WriteError(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(msg) // a string always marshals
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

package tiupload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// DecodeResult reads the answer to an upload of n objects: an empty body
// (every object accepted) or {"errors": [{"recordIndex", "errorMessages"}]}.
// Accepted counts the objects no error names; an error whose index is
// outside the request is kept in Errors but rejects nothing.
func DecodeResult(body []byte, n int) (Result, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return Result{Accepted: n}, nil
	}
	var answer struct {
		Errors []ObjectError `json:"errors"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return Result{}, fmt.Errorf("decode upload answer: %w", err)
	}
	rejected := map[int]bool{}
	for _, e := range answer.Errors {
		if e.Index >= 0 && e.Index < n {
			rejected[e.Index] = true
		}
	}
	return Result{Accepted: n - len(rejected), Errors: answer.Errors}, nil
}

// serviceMessage is the readable part of an error answer: the gateway's
// {"statusCode", "message"}, ARM's {"error": {"code", "message"}}, or
// the start of the text, printable characters only.
func serviceMessage(body []byte) string {
	var answer struct {
		Message string `json:"message"`
		Error   struct {
			Code, Message string
		} `json:"error"`
	}
	if json.Unmarshal(body, &answer) == nil {
		switch {
		case answer.Message != "":
			return clip(answer.Message)
		case answer.Error.Message != "":
			return clip(strings.TrimSpace(answer.Error.Code + " " + answer.Error.Message))
		}
	}
	if s := clip(string(body)); s != "" {
		return s
	}
	return "(no details)"
}

// clip keeps an error text short and on one line.
func clip(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300]) + "…"
	}
	return s
}

// tryAgainIn is the wait the 429 body states ("Try again in N seconds.").
var tryAgainIn = regexp.MustCompile(`(?i)try again in (\d{1,6}) seconds?`)

// retryAfterInMessage reads the wait from a documented 429 body, for an
// answer that lacks the Retry-After header.
func retryAfterInMessage(body []byte) time.Duration {
	m := tryAgainIn.FindSubmatch(body)
	if m == nil {
		return 0
	}
	secs, err := strconv.Atoi(string(m[1]))
	if err != nil || secs <= 0 {
		return 0
	}
	return time.Duration(secs) * time.Second
}

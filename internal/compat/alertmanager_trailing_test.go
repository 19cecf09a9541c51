package compat

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

// TestAlertmanagerTrailingData: only whitespace may follow the array.
// Each body goes through ParseAlertmanager and through each path on its
// own, so that neither path lets trailing data through.
func TestAlertmanagerTrailingData(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	const one = `[{"labels":{"alertname":"A"}}]`
	refused := []string{
		one + `garbage`,
		one + `[]`,
		one + one,
		one + `}`,
		one + `]`,
		one + `]]`,
		one + ` }`,
		one + `,`,
		one + `:`,
		one + `"x"`,
		one + `0`,
		one + `null`,
		one + "\n{}",
		`[]}`,
		`[]]`,
		`[] x`,
	}
	for _, b := range refused {
		t.Run(b, func(t *testing.T) {
			alerts, err := ParseAlertmanager([]byte(b), now)
			var fe *validation.FieldError
			if !errors.As(err, &fe) || fe.Field != "body" {
				t.Errorf("ParseAlertmanager(%q) = %d alerts, %v; want a body error", b, len(alerts), err)
			}
			if alerts != nil {
				t.Errorf("ParseAlertmanager(%q) kept %d alerts of a malformed body", b, len(alerts))
			}
			if _, ferr, ok := parseAlertmanagerFast([]byte(b), now); ok {
				t.Errorf("fast path accepted %q (err %v)", b, ferr)
			}
			if _, serr := parseAlertmanagerSlow([]byte(b), now); !errors.As(serr, &fe) || fe.Field != "body" {
				t.Errorf("slow path: got %v, want a body error", serr)
			}
		})
	}
	for _, b := range []string{one, one + " ", one + "\n", one + "\r\n\t ", " \n" + one + "\n\n", `[]`, "[]\n"} {
		alerts, err := ParseAlertmanager([]byte(b), now)
		if err != nil {
			t.Errorf("ParseAlertmanager(%q): %v; want whitespace after the array accepted", b, err)
		}
		if want := strings.Count(b, "alertname"); len(alerts) != want {
			t.Errorf("ParseAlertmanager(%q) = %d alerts, want %d", b, len(alerts), want)
		}
		if _, _, ok := parseAlertmanagerFast([]byte(b), now); !ok {
			t.Errorf("fast path declined %q", b)
		}
	}
}

package validation

import (
	"errors"
	"testing"
)

func TestPrefix(t *testing.T) {
	tests := []struct {
		prefix, field, want string
	}{
		{"", "title", "title"},
		{"[3]", "title", "[3].title"},
		{"[3]", "[0].value", "[3][0].value"},
		{"entities[1]", "", "entities[1]"},
		{"data", "essentials.alertId", "data.essentials.alertId"},
	}
	for _, tt := range tests {
		var fe *FieldError
		if !errors.As(Prefix(tt.prefix, NewFieldError(tt.field, "bad")), &fe) || fe.Field != tt.want {
			t.Errorf("Prefix(%q, %q) field = %v, want %q", tt.prefix, tt.field, fe, tt.want)
		}
	}
	plain := errors.New("plain")
	if Prefix("[1]", plain) != plain {
		t.Errorf("Prefix changed a non-field error")
	}
}

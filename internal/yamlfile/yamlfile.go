// Package yamlfile decodes the YAML files people write for vigil (the
// process, rules files) strictly and safely.
package yamlfile

import (
	"fmt"

	"github.com/goccy/go-yaml"
)

// Strict decodes YAML into v, rejecting unknown keys: a misspelt key must
// fail, not drop what it held. goccy/go-yaml (v1.19.2) panics on some
// malformed input, such as a tagged scalar where a list belongs (found by
// FuzzParseProcess and FuzzRulesFile); a bad file must be reported as one,
// not crash vigil.
func Strict(b []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed YAML (the YAML decoder failed: %v)", r)
		}
	}()
	return yaml.UnmarshalWithOptions(b, v, yaml.Strict())
}

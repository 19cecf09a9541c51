package feeds

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// stixObject holds the fields of a STIX 2.1 object that make an indicator.
type stixObject struct {
	Type           string   `json:"type"`
	ID             string   `json:"id"`
	Created        string   `json:"created"`
	Pattern        string   `json:"pattern"`
	PatternType    string   `json:"pattern_type"`
	ValidFrom      string   `json:"valid_from"`
	ValidUntil     string   `json:"valid_until"`
	Confidence     *int     `json:"confidence"`
	Labels         []string `json:"labels"`
	IndicatorTypes []string `json:"indicator_types"`
	Revoked        bool     `json:"revoked"`
}

// stixObjectIndicators turns one STIX object into indicators. It returns
// skipped=1 for an indicator object that cannot be used (malformed, not a
// "stix" pattern, an unsupported pattern, revoked), and 0 with no
// indicators for objects that are not indicators (malware, relationship…),
// which are not errors in a bundle.
func stixObjectIndicators(raw []byte, emit func(Indicator)) (skipped int) {
	var o stixObject
	if err := json.Unmarshal(raw, &o); err != nil {
		return 1
	}
	return o.indicators(emit)
}

func (o *stixObject) indicators(emit func(Indicator)) (skipped int) {
	if o.Type != "indicator" {
		return 0
	}
	if o.PatternType != "stix" || o.Revoked || o.ID == "" {
		return 1
	}
	values, err := ParseSTIXPattern(o.Pattern)
	if err != nil {
		return 1
	}
	base := Indicator{Confidence: DefaultConfidence, Ref: o.ID}
	if o.Confidence != nil {
		if *o.Confidence < 0 || *o.Confidence > 100 {
			return 1
		}
		base.Confidence = *o.Confidence
	}
	base.Tags = appendTags(base.Tags, o.Labels...)
	base.Tags = appendTags(base.Tags, o.IndicatorTypes...)
	if t, ok := parseTime(o.ValidFrom); ok {
		base.FirstSeen = t
	} else if t, ok := parseTime(o.Created); ok {
		base.FirstSeen = t
	}
	if o.ValidUntil != "" {
		t, ok := parseTime(o.ValidUntil)
		if !ok {
			return 1
		}
		base.ValidUntil = t
	}
	var out []Indicator
	for _, v := range values {
		ind := base
		if len(values) > 1 {
			ind.Tags = append([]string(nil), base.Tags...) // each indicator owns its tags
		}
		ind.Type, ind.Value = v.Type, v.Value
		if !checkIndicator(&ind) {
			return 1 // one bad value spoils the object: its other values are its alternatives
		}
		out = append(out, ind)
	}
	for _, ind := range out {
		emit(ind)
	}
	return 0
}

// ParseSTIX streams a STIX 2.1 bundle ({"type": "bundle", "objects": [...]})
// and emits the indicators of its indicator objects, one object in memory at
// a time, so bundles of millions of objects fit. A bundle that is not
// well-formed JSON, or whose "objects" is not an array, is an error (with
// the indicators before the fault already emitted); an object that does not
// fit is skipped and counted.
func ParseSTIX(r io.Reader, emit func(Indicator)) (skipped int, err error) {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		return 0, fmt.Errorf("stix bundle: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return 0, errors.New("stix bundle: not a JSON object")
	}
	sawObjects := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return skipped, fmt.Errorf("stix bundle: %w", err)
		}
		key, _ := tok.(string)
		if key != "objects" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return skipped, fmt.Errorf("stix bundle: field %q: %w", key, err)
			}
			continue
		}
		if sawObjects {
			return skipped, errors.New("stix bundle: \"objects\" appears twice")
		}
		sawObjects = true
		tok, err = dec.Token()
		if err != nil {
			return skipped, fmt.Errorf("stix bundle: objects: %w", err)
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			if tok == nil {
				continue // "objects": null is an empty bundle
			}
			return skipped, errors.New("stix bundle: \"objects\" is not an array")
		}
		for n := 0; dec.More(); n++ {
			// Decoder.Decode reads the whole value before unmarshalling it,
			// so a value of the wrong shape (an UnmarshalTypeError) leaves
			// the stream in step: skip that object. Any other error is a
			// broken bundle. Decoding straight into the struct scans each
			// object twice instead of three times through a RawMessage.
			var o stixObject
			if err := dec.Decode(&o); err != nil {
				var te *json.UnmarshalTypeError
				if errors.As(err, &te) {
					skipped++
					continue
				}
				return skipped, fmt.Errorf("stix bundle: object %d: %w", n, err)
			}
			skipped += o.indicators(emit)
		}
		if _, err := dec.Token(); err != nil {
			return skipped, fmt.Errorf("stix bundle: objects: %w", err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return skipped, fmt.Errorf("stix bundle: %w", err)
	}
	return skipped, nil
}

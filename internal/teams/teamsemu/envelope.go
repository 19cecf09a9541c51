package teamsemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// MaxVersion is the newest Adaptive Card version the emulator accepts,
// the newest every Teams client renders.
const MaxVersion = "1.5"

const adaptiveContentType = "application/vnd.microsoft.card.adaptive"

// ParseEnvelope checks a Workflows webhook body and returns its cards. The
// body must be the message envelope of the fixture
// (incoming_webhook_adaptive_card.json): type "message" and at least one
// attachment of content type application/vnd.microsoft.card.adaptive
// whose content is an AdaptiveCard with a version up to MaxVersion, a
// body array of typed elements, and, if any, typed actions whose OpenUrl
// targets are absolute http(s) URLs. The error names what is wrong.
func ParseEnvelope(body []byte) ([]map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var env map[string]any
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("body is not a JSON object: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("body has data after the JSON object")
	}
	if t, _ := env["type"].(string); t != "message" {
		return nil, errors.New(`type: must be "message"`)
	}
	atts, ok := env["attachments"].([]any)
	if !ok || len(atts) == 0 {
		return nil, errors.New("attachments: must be a non-empty array")
	}
	var cards []map[string]any
	for i, a := range atts {
		att, ok := a.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("attachments[%d]: must be an object", i)
		}
		if ct, _ := att["contentType"].(string); ct != adaptiveContentType {
			return nil, fmt.Errorf("attachments[%d].contentType: must be %q (MessageCard and other formats are not taken)", i, adaptiveContentType)
		}
		card, ok := att["content"].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("attachments[%d].content: must be an object", i)
		}
		if err := checkCard(card); err != nil {
			return nil, fmt.Errorf("attachments[%d].content.%v", i, err)
		}
		cards = append(cards, card)
	}
	return cards, nil
}

func checkCard(card map[string]any) error {
	if t, _ := card["type"].(string); t != "AdaptiveCard" {
		return errors.New(`type: must be "AdaptiveCard"`)
	}
	v, _ := card["version"].(string)
	if !versionOK(v) {
		return fmt.Errorf("version: %q is not a version up to %s", v, MaxVersion)
	}
	body, ok := card["body"].([]any)
	if !ok {
		return errors.New("body: must be an array")
	}
	if err := checkElements("body", body); err != nil {
		return err
	}
	if a, present := card["actions"]; present {
		actions, ok := a.([]any)
		if !ok {
			return errors.New("actions: must be an array")
		}
		if err := checkActions("actions", actions); err != nil {
			return err
		}
	}
	return nil
}

func checkElements(path string, elems []any) error {
	for i, e := range elems {
		el, ok := e.(map[string]any)
		if !ok {
			return fmt.Errorf("%s[%d]: must be an object", path, i)
		}
		t, _ := el["type"].(string)
		p := fmt.Sprintf("%s[%d]", path, i)
		switch t {
		case "":
			return fmt.Errorf("%s.type: is required", p)
		case "TextBlock":
			if _, ok := el["text"].(string); !ok {
				return fmt.Errorf("%s.text: must be a string", p)
			}
		case "FactSet":
			facts, ok := el["facts"].([]any)
			if !ok {
				return fmt.Errorf("%s.facts: must be an array", p)
			}
			for j, f := range facts {
				fact, ok := f.(map[string]any)
				_, tok := fact["title"].(string)
				_, vok := fact["value"].(string)
				if !ok || !tok || !vok {
					return fmt.Errorf("%s.facts[%d]: must have string title and value", p, j)
				}
			}
		case "ActionSet":
			actions, _ := el["actions"].([]any)
			if err := checkActions(p+".actions", actions); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkActions(path string, actions []any) error {
	for i, a := range actions {
		act, ok := a.(map[string]any)
		if !ok {
			return fmt.Errorf("%s[%d]: must be an object", path, i)
		}
		t, _ := act["type"].(string)
		if !strings.HasPrefix(t, "Action.") {
			return fmt.Errorf("%s[%d].type: must be an Action.* type", path, i)
		}
		if t == "Action.OpenUrl" {
			s, _ := act["url"].(string)
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("%s[%d].url: must be an absolute http(s) URL", path, i)
			}
		}
	}
	return nil
}

// versionOK reports whether v is "major.minor" no newer than MaxVersion.
func versionOK(v string) bool {
	maj, min, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if err1 != nil || err2 != nil || a < 1 || b < 0 {
		return false
	}
	return a == 1 && b <= 5
}

// OpenURL returns the URL of the Action.OpenUrl titled title, in the
// card's actions or in an ActionSet of its body.
func OpenURL(card map[string]any, title string) (string, bool) {
	if u, ok := findOpenURL(card["actions"], title); ok {
		return u, true
	}
	body, _ := card["body"].([]any)
	for _, e := range body {
		if el, ok := e.(map[string]any); ok && el["type"] == "ActionSet" {
			if u, ok := findOpenURL(el["actions"], title); ok {
				return u, true
			}
		}
	}
	return "", false
}

func findOpenURL(v any, title string) (string, bool) {
	actions, _ := v.([]any)
	for _, a := range actions {
		act, ok := a.(map[string]any)
		if !ok || act["type"] != "Action.OpenUrl" || act["title"] != title {
			continue
		}
		u, ok := act["url"].(string)
		return u, ok
	}
	return "", false
}

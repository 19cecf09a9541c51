package devops_test

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/vigil-soc/vigil/internal/connector/devops"
)

// FuzzParseHook fuzzes the body of the Azure Boards service hook
// (POST /hooks/devops), which vigil's handler hands to ParseHook once the
// basic credentials match. Its seed corpus, in testdata/fuzz/FuzzParseHook/,
// starts from Microsoft's sample workitem.updated payload.
func FuzzParseHook(f *testing.F) {
	for _, s := range []string{
		`{"eventType":"workitem.updated","resource":{"workItemId":5,"rev":2,"fields":{"System.State":{"oldValue":"New","newValue":"Approved"}},"revision":{"id":5,"rev":2,"fields":{"System.WorkItemType":"Bug","System.State":"Approved","System.Tags":"vigil-42; x"}}}}`,
		`{"eventType":"workitem.updated","resource":{"workItemId":"7","rev":"3","revisedBy":{"uniqueName":"a@b"},"revision":{"fields":{"System.WorkItemType":"Task","System.State":"Done"}}}}`,
		`{"eventType":"workitem.created"}`,
		`{"eventType":"workitem.updated","resource":{"workItemId":1.5}}`,
		`<html>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ch, err := devops.ParseHook(body)
		if err != nil {
			// The receiver answers these as a 400 naming the body; the
			// message must say it is about the hook.
			if !strings.HasPrefix(err.Error(), "devops hook: ") {
				t.Fatalf("error %q does not say it is about the hook", err)
			}
			if !reflect.DeepEqual(ch, devops.Change{}) {
				t.Fatalf("error %v with a change %+v", err, ch)
			}
			return
		}
		switch {
		case ch.BoardsID <= 0 || ch.Rev <= 0:
			t.Fatalf("accepted change without a Boards id or revision: %+v", ch)
		case ch.Type == "" || ch.NewState == "" || ch.OldState == "":
			t.Fatalf("accepted change without a type or states: %+v", ch)
		case ch.VigilID < 0:
			t.Fatalf("negative vigil id: %+v", ch)
		}
		for _, tag := range ch.Tags {
			if tag == "" || tag != strings.TrimSpace(tag) || strings.Contains(tag, ";") {
				t.Fatalf("tag %q is blank, padded or holds a separator", tag)
			}
		}
		// A vigil id comes only from a vigil-<id> tag.
		if ch.VigilID > 0 && !hasTag(ch.Tags, "vigil-"+strconv.FormatInt(ch.VigilID, 10)) {
			t.Fatalf("vigil id %d without its tag in %q", ch.VigilID, ch.Tags)
		}
		again, err := devops.ParseHook(body)
		if err != nil || !reflect.DeepEqual(again, ch) {
			t.Fatalf("second parse differs: %+v, %v; first %+v", again, err, ch)
		}
	})
}

// hasTag reports whether tags hold want, ignoring case as Boards does and
// leading zeros in the number.
func hasTag(tags []string, want string) bool {
	for _, t := range tags {
		if len(t) < len("vigil-") || !strings.EqualFold(t[:len("vigil-")], "vigil-") {
			continue
		}
		n, err := strconv.ParseInt(t[len("vigil-"):], 10, 64)
		if err == nil && "vigil-"+strconv.FormatInt(n, 10) == want {
			return true
		}
	}
	return false
}

package simulator

// Work items changed by JSON Patch, with the rules Azure Boards applies
// to fields, states and relations.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// adoPatchOp is one JSON Patch operation.
type adoPatchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	From  *string         `json:"from"`
	Value json.RawMessage `json:"value"`
}

// readPatch reads a JSON Patch body, which must be sent as
// application/json-patch+json.
func (d *devops) readPatch(w http.ResponseWriter, r *http.Request) ([]adoPatchOp, bool) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json-patch+json":
	case "application/json":
		adoVSSFail(http.StatusUnsupportedMediaType, adoWebAPI("VssRequestContentTypeNotSupportedException"), fmt.Sprintf(
			`The request indicated a Content-Type of "%s" for method type "%s" which is not supported. Valid content types for this method are: application/json-patch+json.`, ct, r.Method)).write(w)
		return nil, false
	default:
		adoInvalidPatch().write(w)
		return nil, false
	}
	var ops []adoPatchOp
	if err := decodeJSON(r, &ops); err != nil || len(ops) == 0 {
		adoInvalidPatch().write(w)
		return nil, false
	}
	return ops, true
}

// apply applies a JSON Patch to cur and returns the next revision, or cur
// itself when nothing changed. It is all or nothing: a failing operation,
// such as a test of a stale /rev, leaves cur as it was. d.mu is held.
func (d *devops) apply(cur *adoItem, ops []adoPatchOp, who adoIdentity, create bool) (*adoItem, *adoFailure) {
	next := cur.clone()
	delete(next.fields, "System.History") // history belongs to one revision
	set := map[string]bool{}
	for _, op := range ops {
		if f := d.applyOp(next, op, set); f != nil {
			return nil, f
		}
	}
	now := d.now()
	if f := d.settle(cur, next, who, set, create, now); f != nil {
		return nil, f
	}
	if !create && !adoChanged(cur, next) {
		return cur, nil
	}
	next.rev = cur.rev + 1
	next.fields["System.ChangedDate"] = now
	next.fields["System.ChangedBy"] = who
	if create {
		next.fields["System.CreatedDate"] = now
		next.fields["System.CreatedBy"] = who
		if _, ok := next.fields["Microsoft.VSTS.Common.Priority"]; !ok && !set["Microsoft.VSTS.Common.Priority"] {
			next.fields["Microsoft.VSTS.Common.Priority"] = float64(2)
		}
	}
	return next, nil
}

func (d *devops) applyOp(it *adoItem, op adoPatchOp, set map[string]bool) *adoFailure {
	var val any
	if len(op.Value) > 0 {
		if err := json.Unmarshal(op.Value, &val); err != nil {
			return adoInvalidPatch()
		}
	}
	kind := strings.ToLower(op.Op)
	switch kind {
	case "add", "replace", "remove", "test":
	case "move", "copy":
		return d.moveOrCopy(it, kind, op, set)
	default:
		return adoInvalidPatch()
	}
	lp := strings.ToLower(op.Path)
	switch {
	case lp == "/rev" || lp == "/id":
		have := it.rev
		if lp == "/id" {
			have = it.id
		}
		if kind != "test" {
			return adoRuleFail(map[string]string{"/rev": "Rev", "/id": "ID"}[lp], "ReadOnly")
		}
		if n, ok := adoNumber(val); !ok || n != float64(have) {
			return adoTestFail(op.Path, have, adoString(val))
		}
	case strings.HasPrefix(lp, "/fields/"):
		return d.applyField(it, kind, op.Path, op.Path[len("/fields/"):], val, set)
	case strings.HasPrefix(lp, "/relations/"):
		return d.applyRelation(it, kind, op.Path, op.Path[len("/relations/"):], val)
	default:
		return adoPatchFail("Unable to evaluate path " + op.Path + ".")
	}
	return nil
}

// moveOrCopy applies RFC 6902 move and copy between fields: the value at
// from is added at path, and for move then removed from from. Work items
// have no other place a value can move between.
func (d *devops) moveOrCopy(it *adoItem, kind string, op adoPatchOp, set map[string]bool) *adoFailure {
	if op.From == nil {
		return adoInvalidPatch()
	}
	from, to := *op.From, op.Path
	const prefix = "/fields/"
	if !strings.HasPrefix(strings.ToLower(from), prefix) || !strings.HasPrefix(strings.ToLower(to), prefix) {
		return adoPatchFail("Unable to evaluate path " + from + " to " + to + ".")
	}
	fromName, toName := from[len(prefix):], to[len(prefix):]
	f, ok := adoResolveField(fromName)
	if !ok {
		return adoFieldNotFound(fromName)
	}
	val, ok := it.fields[f.ref]
	if !ok {
		return adoPatchFail("Unable to evaluate path " + from + ".")
	}
	if fail := d.applyField(it, "add", to, toName, adoHookValue(val), set); fail != nil {
		return fail
	}
	if kind == "move" {
		return d.applyField(it, "remove", from, fromName, nil, set)
	}
	return nil
}

func (d *devops) applyField(it *adoItem, kind, path, name string, val any, set map[string]bool) *adoFailure {
	f, ok := adoResolveField(name)
	if !ok {
		return adoFieldNotFound(name)
	}
	ref := f.ref
	if kind == "test" {
		have := adoString(adoHookValue(it.fields[ref]))
		if have != adoString(val) {
			return adoTestFail(path, have, adoString(val))
		}
		return nil
	}
	if f.readOnly {
		return adoRuleFail(f.name, "ReadOnly")
	}
	set[ref] = true
	if kind == "remove" || val == nil {
		delete(it.fields, ref)
		return nil
	}
	switch f.kind {
	case adoKIdentity:
		var p adoIdentity
		switch v := val.(type) {
		case string:
			if strings.TrimSpace(v) == "" {
				delete(it.fields, ref)
				return nil
			}
			p = adoPerson(v)
		case map[string]any:
			u, n := adoString(v["uniqueName"]), adoString(v["displayName"])
			if u == "" && n == "" {
				return adoRuleFail(f.name, "InvalidIdentity")
			}
			if u == "" {
				p = adoPerson(n)
			} else {
				p = adoPerson(n + " <" + u + ">")
			}
		default:
			return adoRuleFail(f.name, "InvalidIdentity")
		}
		it.fields[ref] = p
	case adoKTags:
		// "add" adds tags to those the item has, "replace" sets them, and
		// "add" of an empty string clears them, as Azure DevOps treats tags.
		tags := adoTags(adoString(val))
		if kind == "add" && len(tags) > 0 {
			tags = append(adoTags(adoString(it.fields[ref])), tags...)
		}
		if joined := adoJoinTags(tags); joined != "" {
			it.fields[ref] = joined
		} else {
			delete(it.fields, ref)
		}
	case adoKDate:
		t, ok := adoParseTime(adoString(val))
		if !ok {
			return adoRuleFail(f.name, "InvalidType")
		}
		it.fields[ref] = t.UTC()
	case adoKInt, adoKDouble:
		n, ok := adoNumber(val)
		if !ok {
			return adoRuleFail(f.name, "InvalidType")
		}
		it.fields[ref] = n
	default:
		if _, isString := val.(string); !isString {
			val = adoString(val)
		}
		it.fields[ref] = val
	}
	return nil
}

// adoTags splits a tag list; tags are unique regardless of case.
func adoTags(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ";") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func adoJoinTags(tags []string) string {
	seen := map[string]bool{}
	var out []string
	for _, t := range tags {
		if !seen[strings.ToLower(t)] {
			seen[strings.ToLower(t)] = true
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i]) < strings.ToLower(out[j]) })
	return strings.Join(out, "; ")
}

// applyRelation handles /relations/- (append) and /relations/{index}.
func (d *devops) applyRelation(it *adoItem, kind, path, rest string, val any) *adoFailure {
	if rest == "-" {
		if kind != "add" {
			return adoPatchFail("Unable to evaluate path " + path + ".")
		}
		rel, f := d.relation(val)
		if f != nil {
			return f
		}
		it.relations = append(it.relations, rel)
		return nil
	}
	idxText, attr, _ := strings.Cut(rest, "/")
	i, err := strconv.Atoi(idxText)
	limit := len(it.relations)
	if kind == "add" && attr == "" {
		limit++ // add inserts before the index
	}
	if err != nil || i < 0 || i >= limit {
		return adoPatchFail("Index out of range for path " + path + ".")
	}
	if attr != "" {
		// /relations/{i}/attributes/{name}
		name, ok := strings.CutPrefix(attr, "attributes/")
		if !ok || name == "" || kind == "test" {
			return adoPatchFail("Unable to evaluate path " + path + ".")
		}
		attrs, _ := it.relations[i]["attributes"].(map[string]any)
		if attrs == nil {
			attrs = map[string]any{}
			it.relations[i]["attributes"] = attrs
		}
		if kind == "remove" {
			delete(attrs, name)
		} else {
			attrs[name] = val
		}
		return nil
	}
	switch kind {
	case "remove":
		it.relations = slices.Delete(it.relations, i, i+1)
	case "replace", "add":
		rel, f := d.relation(val)
		if f != nil {
			return f
		}
		if kind == "add" {
			it.relations = slices.Insert(it.relations, i, rel)
		} else {
			it.relations[i] = rel
		}
	case "test":
		// A relation is identified by its type and target.
		want, f := d.relation(val)
		if f != nil {
			return f
		}
		have := it.relations[i]
		if !strings.EqualFold(adoString(have["rel"]), adoString(want["rel"])) || !strings.EqualFold(adoString(have["url"]), adoString(want["url"])) {
			return adoTestFail(path, adoString(have["url"]), adoString(want["url"]))
		}
	}
	return nil
}

// relation reads a WorkItemRelation {rel, url, attributes}, adding the
// attributes the service adds.
func (d *devops) relation(val any) (map[string]any, *adoFailure) {
	m, _ := val.(map[string]any)
	rel, u := adoString(m["rel"]), adoString(m["url"])
	if m == nil || rel == "" || u == "" {
		return nil, adoWITFail(http.StatusBadRequest, "WorkItemLinkInvalidException", "VS402625: A relation requires both 'rel' and 'url'.")
	}
	attrs := map[string]any{}
	if a, ok := m["attributes"].(map[string]any); ok {
		attrs = maps.Clone(a)
	}
	switch {
	case strings.HasPrefix(rel, "System.LinkTypes.") || strings.HasPrefix(rel, "Microsoft.VSTS."):
		if _, ok := attrs["isLocked"]; !ok {
			attrs["isLocked"] = false
		}
	default: // Hyperlink, ArtifactLink, AttachedFile: resource links
		now := adoDate(d.now())
		d.nextLinkID++
		for k, v := range map[string]any{"authorizedDate": now, "id": d.nextLinkID, "resourceCreatedDate": now,
			"resourceModifiedDate": now, "revisedDate": adoEndOfTime} {
			if _, ok := attrs[k]; !ok {
				attrs[k] = v
			}
		}
	}
	return map[string]any{"rel": rel, "url": u, "attributes": attrs}, nil
}

// settle applies the process's rules after the operations: the state must
// be one of the type's, the reason and state dates follow a state change,
// the title is required and paths must be in the project.
func (d *devops) settle(cur, next *adoItem, who adoIdentity, set map[string]bool, create bool, now time.Time) *adoFailure {
	typ := d.types[strings.ToLower(adoString(next.fields["System.WorkItemType"]))]
	name := strings.TrimSpace(adoString(next.fields["System.State"]))
	if name == "" {
		if !create {
			return adoRuleFail("State", "Required, HasValues, LimitedToValues, InvalidEmpty")
		}
		name = typ.states[0].name
	}
	st, ok := typ.state(name)
	if !ok {
		return adoRuleFail("State", "Required, HasValues, LimitedToValues, AllowsOldValue, InvalidListValue")
	}
	next.fields["System.State"] = st.name
	old := adoString(cur.fields["System.State"])
	if st.name != old {
		if !set["System.Reason"] || adoString(next.fields["System.Reason"]) == "" {
			reason := "Moved to state " + st.name
			if create && st.name == typ.states[0].name {
				reason = "New"
			}
			next.fields["System.Reason"] = reason
		}
		next.fields["Microsoft.VSTS.Common.StateChangeDate"] = now
		oldCat := ""
		if s, ok := typ.state(old); ok {
			oldCat = s.category
		}
		adoStampCategory(next.fields, oldCat, st.category, who, now)
	}
	if strings.TrimSpace(adoString(next.fields["System.Title"])) == "" {
		return adoRuleFail("Title", "Required, InvalidEmpty")
	}
	project := d.s.opt.DevOpsProject
	for _, ref := range []string{"System.AreaPath", "System.IterationPath"} {
		p := adoString(next.fields[ref])
		if p == "" {
			next.fields[ref] = project
			continue
		}
		if !strings.EqualFold(p, project) && !(len(p) > len(project) && strings.EqualFold(p[:len(project)+1], project+`\`)) {
			id := next.id
			if create {
				id = -1
			}
			return adoWITFail(http.StatusBadRequest, "WorkItemFieldInvalidTreeNameException",
				fmt.Sprintf("TF401347: Invalid tree name given for work item %d, field '%s'.", id, ref))
		}
	}
	next.fields["System.TeamProject"] = project
	return nil
}

// adoStampCategory sets the dates and people the process records when a
// work item enters a state category.
func adoStampCategory(f map[string]any, from, to string, who adoIdentity, now time.Time) {
	clear := func(prefix string) {
		delete(f, "Microsoft.VSTS.Common."+prefix+"Date")
		delete(f, "Microsoft.VSTS.Common."+prefix+"By")
	}
	stamp := func(prefix string) {
		f["Microsoft.VSTS.Common."+prefix+"Date"] = now
		f["Microsoft.VSTS.Common."+prefix+"By"] = who
	}
	switch to {
	case adoProposed:
		clear("Activated")
		clear("Resolved")
		clear("Closed")
	case adoInProgress:
		if from != adoInProgress {
			stamp("Activated")
		}
		clear("Resolved")
		clear("Closed")
	case adoResolved:
		stamp("Resolved")
		clear("Closed")
	case adoCompleted:
		stamp("Closed")
	}
}

// adoChanged reports whether next differs from cur in anything but the
// history of cur's revision.
func adoChanged(cur, next *adoItem) bool {
	if _, ok := next.fields["System.History"]; ok {
		return true
	}
	a := adoHookFields(cur.fields)
	delete(a, "System.History")
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(adoHookFields(next.fields))
	ra, _ := json.Marshal(cur.relations)
	rb, _ := json.Marshal(next.relations)
	return !bytes.Equal(ja, jb) || !bytes.Equal(ra, rb)
}

// commit makes next the current revision and notifies service hooks of
// an update. d.mu is held.
func (d *devops) commit(old, next *adoItem, who adoIdentity) {
	d.watermark++
	next.watermark = d.watermark
	d.items[next.id] = next
	d.recordComment(next, who)
	if old != nil {
		d.notify(old, next, who)
	}
}

// change applies a patch to a work item as who and commits it. d.mu is
// held.
func (d *devops) change(id int, ops []adoPatchOp, who adoIdentity) (*adoItem, *adoFailure) {
	cur := d.items[id]
	if cur == nil {
		return nil, adoItemNotFound(strconv.Itoa(id))
	}
	next, f := d.apply(cur, ops, who, false)
	if f != nil {
		return nil, f
	}
	if next != cur {
		d.commit(cur, next, who)
	}
	return next, nil
}

func adoOp(path string, v any) adoPatchOp {
	b, _ := json.Marshal(v)
	return adoPatchOp{Op: "add", Path: path, Value: b}
}

package simulator

// Service hooks (workitem.updated deliveries) and the portal's own
// controls, through which the scenario and tests act as people.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Service hooks.

// notify queues a workitem.updated event for every subscription. d.mu is
// held.
func (d *devops) notify(old, cur *adoItem, who adoIdentity) {
	var ev map[string]any
	for _, h := range d.hooks {
		if h.deleted || h.eventType != "workitem.updated" {
			continue
		}
		if ev == nil {
			ev = d.updatedEvent(old, cur, who)
		}
		h.notifications++
		body := maps.Clone(ev)
		body["subscriptionId"] = h.id
		body["notificationId"] = h.notifications
		b, err := json.Marshal(body)
		if err != nil {
			d.s.log.Error("service hook payload", "err", err)
			continue
		}
		h.queue = append(h.queue, b)
		if !h.running {
			h.running = true
			go d.drain(h)
		}
	}
}

// drain delivers a subscription's queue in order, one payload at a time,
// and ends when the queue is empty.
func (d *devops) drain(h *adoHook) {
	for {
		d.mu.Lock()
		if len(h.queue) == 0 || h.deleted {
			h.queue, h.running = nil, false
			d.mu.Unlock()
			return
		}
		b := h.queue[0]
		h.queue = h.queue[1:]
		d.mu.Unlock()
		d.deliver(h, b)
	}
}

// deliver posts one payload, retrying with exponential backoff a bounded
// number of times, as Azure DevOps retries a failing consumer.
func (d *devops) deliver(h *adoHook, body []byte) {
	wait := d.hookBackoff
	for attempt := 1; ; attempt++ {
		err := d.post(h, body)
		d.mu.Lock()
		h.attempts++
		if err == nil {
			h.delivered++
		}
		gone := h.deleted
		d.mu.Unlock()
		if err == nil || gone {
			return
		}
		if attempt >= d.hookAttempts {
			d.mu.Lock()
			h.failedPayloads++
			d.mu.Unlock()
			d.s.log.Warn("service hook delivery failed", "subscription", h.id, "url", h.url, "attempts", attempt, "err", err)
			return
		}
		time.Sleep(wait)
		wait *= 2
	}
}

func (d *devops) post(h *adoHook, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, vs := range h.headers {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "VSServices/16.255.35114.6 (NetStandard; Linux)")
	if h.user != "" || h.password != "" {
		req.SetBasicAuth(h.user, h.password)
	}
	client := d.client
	if host := req.URL.Hostname(); host == "localhost" || net.ParseIP(host).IsLoopback() {
		client = d.loopback
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// updatedEvent is the workitem.updated payload, resource version 1.0.
func (d *devops) updatedEvent(old, cur *adoItem, who adoIdentity) map[string]any {
	oldF, curF := adoHookFields(old.fields), adoHookFields(cur.fields)
	pair := func(o, n any, hasOld, hasNew bool) map[string]any {
		m := map[string]any{}
		if hasOld {
			m["oldValue"] = o
		}
		if hasNew {
			m["newValue"] = n
		}
		return m
	}
	changes := map[string]any{}
	for k, v := range curF {
		ov, had := oldF[k]
		if k == "System.History" {
			had = false
		}
		if !had {
			changes[k] = pair(nil, v, false, true)
		} else if a, b := fmt.Sprint(ov), fmt.Sprint(v); a != b {
			changes[k] = pair(ov, v, true, true)
		}
	}
	for k, ov := range oldF {
		if _, ok := curF[k]; !ok && k != "System.History" {
			changes[k] = pair(ov, nil, true, false)
		}
	}
	if changes["System.ChangedDate"] == nil { // every update has one, even within a millisecond
		changes["System.ChangedDate"] = pair(oldF["System.ChangedDate"], curF["System.ChangedDate"], true, true)
	}
	changes["System.Rev"] = pair(old.rev, cur.rev, true, true)
	changes["System.AuthorizedDate"] = pair(oldF["System.ChangedDate"], curF["System.ChangedDate"], true, true)
	changes["System.RevisedDate"] = pair(curF["System.ChangedDate"], adoEndOfTime, true, true)
	changes["System.Watermark"] = pair(old.watermark, cur.watermark, true, true)

	revisedBy := d.identityRef(who)
	revisedBy["name"] = who.String()
	rev := strconv.Itoa(cur.rev)
	updates := d.itemURL(cur.id) + "/updates"
	msg, detailed := d.eventMessages(cur, who, changes["System.State"] != nil)
	return map[string]any{
		"id":              newGUID(),
		"eventType":       "workitem.updated",
		"publisherId":     "tfs",
		"scope":           "all",
		"message":         msg,
		"detailedMessage": detailed,
		"resource": map[string]any{
			"id":          cur.rev, // the update's number: one per revision here
			"workItemId":  cur.id,
			"rev":         cur.rev,
			"revisedBy":   revisedBy,
			"revisedDate": adoEndOfTime,
			"fields":      changes,
			"_links": map[string]any{
				"self":            adoHref(updates + "/" + rev),
				"parent":          adoHref(d.itemURL(cur.id)),
				"workItemUpdates": adoHref(updates),
			},
			"url": updates + "/" + rev,
			"revision": map[string]any{
				"id": cur.id, "rev": cur.rev, "fields": curF,
				"url": d.itemURL(cur.id) + "/revisions/" + rev,
			},
		},
		"resourceVersion": "1.0",
		"resourceContainers": map[string]any{
			"collection": map[string]any{"id": d.collectionID},
			"account":    map[string]any{"id": d.accountID},
			"project":    map[string]any{"id": d.projectID},
		},
		"createdDate": d.s.clock.Now().UTC().Format("2006-01-02T15:04:05.0000000Z"),
	}
}

func (d *devops) eventMessages(it *adoItem, who adoIdentity, stateChanged bool) (msg, detailed map[string]any) {
	typ, title := adoString(it.fields["System.WorkItemType"]), adoString(it.fields["System.Title"])
	link := d.htmlURL(it.id)
	label := fmt.Sprintf("%s #%d", typ, it.id)
	text := fmt.Sprintf("%s (%s) updated by %s.\r\n(%s)", label, title, who.Name, link)
	htm := fmt.Sprintf(`<a href="%s">%s</a> (%s) updated by %s.`, html.EscapeString(link), html.EscapeString(label), html.EscapeString(title), html.EscapeString(who.Name))
	md := fmt.Sprintf("[%s](%s) (%s) updated by %s.", label, link, title, who.Name)
	msg = map[string]any{"text": text, "html": htm, "markdown": md}
	detailed = maps.Clone(msg)
	if stateChanged {
		st := adoString(it.fields["System.State"])
		detailed["text"] = text + "\r\n\r\n- New State: " + st + "\r\n"
		detailed["html"] = htm + "<ul>\r\n<li>New State: " + html.EscapeString(st) + "</li></ul>"
		detailed["markdown"] = md + "\r\n\r\n* New State: " + st + "\r\n"
	}
	return msg, detailed
}

func adoSimError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// POST /sim/v1/devops/hooks {url, username, password, eventType,
// httpHeaders}: a web hooks subscription, as an organization admin makes
// one in Project settings > Service hooks.
func (d *devops) hookCreate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		URL         string `json:"url"`
		Username    string `json:"username"`
		Password    string `json:"password"`
		EventType   string `json:"eventType"`
		HTTPHeaders string `json:"httpHeaders"` // "Name: value" lines, as the web hooks consumer takes them
	}
	if err := decodeJSON(r, &req); err != nil {
		adoSimError(w, http.StatusBadRequest, "want {url, username, password, eventType, httpHeaders}: "+err.Error())
		return
	}
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		adoSimError(w, http.StatusBadRequest, "url must be an absolute http or https URL")
		return
	}
	if req.EventType == "" {
		req.EventType = "workitem.updated"
	}
	if req.EventType != "workitem.updated" {
		adoSimError(w, http.StatusBadRequest, "eventType: only workitem.updated is simulated")
		return
	}
	h := &adoHook{id: newGUID(), url: req.URL, user: req.Username, password: req.Password, eventType: req.EventType, headers: http.Header{}}
	for _, line := range strings.Split(req.HTTPHeaders, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) != "" {
			h.headers.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	d.mu.Lock()
	d.hooks = append(d.hooks, h)
	d.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": h.id, "url": h.url, "eventType": h.eventType, "publisherId": "tfs",
		"consumerId": "webHooks", "consumerActionId": "httpRequest",
	})
}

// GET /sim/v1/devops/hooks: subscriptions with delivery counts.
func (d *devops) hookList(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	out := []any{}
	for _, h := range d.hooks {
		out = append(out, map[string]any{
			"id": h.id, "url": h.url, "eventType": h.eventType, "notifications": h.notifications,
			"attempts": h.attempts, "delivered": h.delivered, "failed": h.failedPayloads, "pending": len(h.queue),
		})
	}
	d.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"count": len(out), "value": out})
}

// DELETE /sim/v1/devops/hooks/{id}
func (d *devops) hookDelete(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, h := range d.hooks {
		if h.id == r.PathValue("id") {
			h.deleted = true
			d.hooks = slices.Delete(d.hooks, i, i+1)
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	adoSimError(w, http.StatusNotFound, "no such subscription")
}

// portalChange applies a portal user's change and answers the control
// API. The process rules apply as they do to the REST API.
func (d *devops) portalChange(w http.ResponseWriter, r *http.Request, by string, ops []adoPatchOp) {
	id, ok := adoID(r.PathValue("id"))
	if !ok {
		adoSimError(w, http.StatusNotFound, "no such work item")
		return
	}
	who := adoPortalUser
	if strings.TrimSpace(by) != "" {
		who = adoPerson(by)
	}
	d.mu.Lock()
	it, f := d.change(id, ops, who)
	var resp map[string]any
	if f == nil {
		resp = map[string]any{"id": it.id, "rev": it.rev, "state": it.fields["System.State"]}
	}
	d.mu.Unlock()
	if f != nil {
		adoSimError(w, f.code, adoString(f.body["message"]))
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// POST /sim/v1/devops/workitems/{id}/state {"state":"Closed","by":"Alice",
// "reason":"...","comment":"..."}: a user moves the item on the board.
func (d *devops) portalState(w http.ResponseWriter, r *http.Request) {
	var req struct{ State, By, Reason, Comment string }
	if err := decodeJSON(r, &req); err != nil || strings.TrimSpace(req.State) == "" {
		adoSimError(w, http.StatusBadRequest, `want {"state":"Closed","by":"Alice","reason":"","comment":""}`)
		return
	}
	ops := []adoPatchOp{adoOp("/fields/System.State", req.State)}
	if req.Reason != "" {
		ops = append(ops, adoOp("/fields/System.Reason", req.Reason))
	}
	if req.Comment != "" {
		ops = append(ops, adoOp("/fields/System.History", req.Comment))
	}
	d.portalChange(w, r, req.By, ops)
}

// POST /sim/v1/devops/workitems/{id}/edit {"fields":{"System.Title":"x"},
// "by":"Alice"}: a user edits fields in the web portal.
func (d *devops) portalFields(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Fields map[string]any `json:"fields"`
		By     string         `json:"by"`
	}
	if err := decodeJSON(r, &req); err != nil || len(req.Fields) == 0 {
		adoSimError(w, http.StatusBadRequest, `want {"fields":{"System.Title":"..."},"by":"Alice"}`)
		return
	}
	var ops []adoPatchOp
	for _, k := range slices.Sorted(maps.Keys(req.Fields)) {
		ops = append(ops, adoOp("/fields/"+k, req.Fields[k]))
	}
	d.portalChange(w, r, req.By, ops)
}

package simulator

// Work item comments (the discussion), as the Comments API of work item
// tracking serves them (api-version 7.1-preview.4):
//
//	GET  {org}/{project}/_apis/wit/workItems/{id}/comments   $top, continuationToken, order, includeDeleted
//	GET  {org}/{project}/_apis/wit/workItems/{id}/comments/{commentId}
//	POST {org}/{project}/_apis/wit/workItems/{id}/comments   {"text": "..."}
//
// Azure DevOps keeps one discussion: a System.History value written with a
// JSON Patch becomes a comment, and a comment added here is a new revision
// carrying it in System.History. The simulator does the same, so a client
// may write either way and read both back here.

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// adoComment is one comment of a work item's discussion.
type adoComment struct {
	id, workItem int
	text         string
	by           adoIdentity
	created      time.Time
}

// adoCommentsMaxTop is the documented largest page.
const adoCommentsMaxTop = 200

func (d *devops) commentRoutes(proj string) {
	d.route("GET "+proj+"workitems/{id}/comments", "devops.comments.list", d.commentsList)
	d.route("GET "+proj+"workitems/{id}/comments/{commentId}", "devops.comments.get", d.commentGet)
	d.route("POST "+proj+"workitems/{id}/comments", "devops.comments.add", d.commentAdd)
}

// recordComment adds the comment a revision's System.History makes. d.mu
// is held.
func (d *devops) recordComment(it *adoItem, who adoIdentity) {
	text := adoString(it.fields["System.History"])
	if strings.TrimSpace(text) == "" {
		return
	}
	if d.comments == nil {
		d.comments = map[int][]*adoComment{}
	}
	d.nextCommentID++
	d.comments[it.id] = append(d.comments[it.id], &adoComment{id: d.nextCommentID, workItem: it.id, text: text, by: who, created: d.now()})
}

func (d *devops) renderComment(c *adoComment) map[string]any {
	by := d.identityRef(c.by)
	return map[string]any{
		"workItemId": c.workItem, "commentId": c.id, "version": 1, "text": c.text,
		"createdBy": by, "createdDate": adoDate(c.created), "modifiedBy": by, "modifiedDate": adoDate(c.created),
		"isDeleted": false, "mentions": []any{}, "reactions": []any{},
		"url": d.itemURL(c.workItem) + "/comments/" + strconv.Itoa(c.id),
	}
}

// commentItem checks the version, project and work item of a comments
// request; it returns the work item id, or 0 after answering.
func (d *devops) commentItem(w http.ResponseWriter, r *http.Request) int {
	if !d.checkVersion(w, r, "wit/comments", true) || !d.checkProject(w, r) {
		return 0
	}
	id, ok := adoID(r.PathValue("id"))
	if !ok {
		adoItemNotFound(r.PathValue("id")).write(w)
		return 0
	}
	d.mu.Lock()
	_, exists := d.items[id]
	d.mu.Unlock()
	if !exists {
		adoItemNotFound(strconv.Itoa(id)).write(w)
		return 0
	}
	return id
}

// GET .../workItems/{id}/comments: newest first unless order=asc, at most
// $top (200) a page, with a continuationToken while more remain.
func (d *devops) commentsList(w http.ResponseWriter, r *http.Request, _ adoIdentity) {
	id := d.commentItem(w, r)
	if id == 0 {
		return
	}
	q := r.URL.Query()
	top := adoCommentsMaxTop
	if v := or(q.Get("$top"), q.Get("top")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			adoArgument("The value of parameter top must be a positive number.").write(w)
			return
		}
		top = min(n, adoCommentsMaxTop)
	}
	asc := false
	switch strings.ToLower(q.Get("order")) {
	case "", "desc":
	case "asc":
		asc = true
	default:
		adoArgument(fmt.Sprintf("The value %q is not valid for parameter order.", q.Get("order"))).write(w)
		return
	}
	start := 0
	if tok := q.Get("continuationToken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 {
			adoArgument("The continuation token is not valid.").write(w)
			return
		}
		start = n
	}
	d.mu.Lock()
	all := d.comments[id]
	ordered := make([]*adoComment, len(all))
	for i, c := range all {
		if asc {
			ordered[i] = c
		} else {
			ordered[len(all)-1-i] = c
		}
	}
	page := []map[string]any{}
	for i := start; i < len(ordered) && len(page) < top; i++ {
		page = append(page, d.renderComment(ordered[i]))
	}
	d.mu.Unlock()
	body := map[string]any{"totalCount": len(ordered), "count": len(page), "comments": page,
		"url": d.itemURL(id) + "/comments"}
	if next := start + len(page); next < len(ordered) {
		tok := base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(next)))
		body["continuationToken"] = tok
		body["nextPage"] = d.itemURL(id) + "/comments?continuationToken=" + tok
	}
	writeJSON(w, http.StatusOK, body)
}

// GET .../workItems/{id}/comments/{commentId}
func (d *devops) commentGet(w http.ResponseWriter, r *http.Request, _ adoIdentity) {
	id := d.commentItem(w, r)
	if id == 0 {
		return
	}
	cid, _ := strconv.Atoi(r.PathValue("commentId"))
	d.mu.Lock()
	var body map[string]any
	for _, c := range d.comments[id] {
		if c.id == cid {
			body = d.renderComment(c)
		}
	}
	d.mu.Unlock()
	if body == nil {
		adoWITFail(http.StatusNotFound, "WorkItemCommentNotFoundException",
			fmt.Sprintf("TF401530: Comment %s on work item %d does not exist.", r.PathValue("commentId"), id)).write(w)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// POST .../workItems/{id}/comments {"text": "..."}: a new revision whose
// System.History is the text, answered with the comment.
func (d *devops) commentAdd(w http.ResponseWriter, r *http.Request, who adoIdentity) {
	id := d.commentItem(w, r)
	if id == 0 {
		return
	}
	var req struct {
		Text *string `json:"text"`
	}
	if err := decodeJSON(r, &req); err != nil || req.Text == nil || strings.TrimSpace(*req.Text) == "" {
		adoArgumentNull("request.Text").write(w)
		return
	}
	d.mu.Lock()
	_, f := d.change(id, []adoPatchOp{adoOp("/fields/System.History", *req.Text)}, who)
	var body map[string]any
	if f == nil {
		if cs := d.comments[id]; len(cs) > 0 {
			body = d.renderComment(cs[len(cs)-1])
		}
	}
	d.mu.Unlock()
	if f != nil {
		f.write(w)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

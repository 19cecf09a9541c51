package sentinel

// SetPageSize sets the $top of incident lists, so that tests can page
// over a handful of incidents.
func SetPageSize(c *Client, n int32) { c.pageSize = n }

// CommentID exposes the comment id derivation to tests.
var CommentID = commentID

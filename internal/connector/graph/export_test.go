package graph

// Waiting reports how many goroutines are waiting in c (for budget,
// Retry-After or backoff), so that a test driving a fake clock advances it
// only while the client is blocked on it.
func Waiting(c *Client) int { return int(c.waiting.Load()) }

// SetPageSize lowers $top, so that paging is tested with a few alerts.
func SetPageSize(c *Client, n int) { c.pageSize, c.legacyPageSize = n, n }

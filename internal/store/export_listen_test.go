package store

import "time"

// SetListenCheck shortens how long a listener waits before checking its
// connection; the returned func restores it.
func SetListenCheck(d time.Duration) (restore func()) {
	old := listenCheck
	listenCheck = d
	return func() { listenCheck = old }
}

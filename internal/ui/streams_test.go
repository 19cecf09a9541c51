package ui

import "testing"

func TestStreamLimiter(t *testing.T) {
	l := newStreamLimiter(2, 3)
	take := func(session, user string, want bool) func() {
		t.Helper()
		release, ok := l.acquire(session, user)
		if ok != want {
			t.Fatalf("acquire(%s, %s) = %v, want %v (sessions %v, users %v)", session, user, ok, want, l.sessions, l.users)
		}
		return release
	}
	a1 := take("s1", "u1", true)
	take("s1", "u1", true)
	take("s1", "u1", false) // the session's cap
	take("s2", "u1", true)
	take("s2", "u1", false) // the user's cap, across sessions
	take("s3", "u2", true)  // another user is not affected

	a1()
	a1() // a second release frees nothing more
	take("s1", "u1", true)
	take("s1", "u1", false)
	if got := l.users["u1"]; got != 3 {
		t.Errorf("u1 holds %d streams, want 3", got)
	}
}

func TestStreamLimiterForgetsClosed(t *testing.T) {
	l := newStreamLimiter(8, 32)
	var releases []func()
	for range 5 {
		r, ok := l.acquire("s", "u")
		if !ok {
			t.Fatal("refused under the cap")
		}
		releases = append(releases, r)
	}
	for _, r := range releases {
		r()
	}
	if len(l.sessions) != 0 || len(l.users) != 0 {
		t.Errorf("after every stream closed: sessions %v, users %v, want none", l.sessions, l.users)
	}
}

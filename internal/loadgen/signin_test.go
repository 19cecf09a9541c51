package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseProcStatus(t *testing.T) {
	in := "Name:\tvigil\nVmPeak:\t 900000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t9\n"
	rss, hwm, err := parseProcStatus(strings.NewReader(in))
	if err != nil || rss != 100<<20 || hwm != 200<<20 {
		t.Errorf("parseProcStatus = %d, %d, %v; want %d, %d, nil", rss, hwm, err, 100<<20, 200<<20)
	}
	if _, _, err := parseProcStatus(strings.NewReader("Name:\tvigil\n")); err == nil {
		t.Error("status without VmRSS: no error")
	}
}

// The tool only ever sends to this machine.
func TestSigninLoopbackOnly(t *testing.T) {
	tests := []struct {
		first string
		n     int
		ok    bool
	}{
		{"127.0.0.2", 1, true},
		{"127.0.1.1", 200, true},
		{"127.255.255.255", 2, false},
		{"10.0.0.1", 1, false},
		{"192.168.1.1", 1, false},
		{"::1", 1, true},
	}
	for _, tt := range tests {
		got, err := loopbackRange(tt.first, tt.n)
		if (err == nil) != tt.ok || (tt.ok && len(got) != tt.n) {
			t.Errorf("loopbackRange(%s, %d) = %d addresses, %v; want ok %v", tt.first, tt.n, len(got), err, tt.ok)
		}
	}
	for _, u := range []string{"http://10.1.2.3:8080", "http://example.org"} {
		if checkLoopbackURL(u) == nil {
			t.Errorf("checkLoopbackURL(%q) accepted", u)
		}
	}
	if err := checkLoopbackURL("http://127.0.0.1:8080"); err != nil {
		t.Errorf("checkLoopbackURL(loopback): %v", err)
	}
}

// A short run against a stand-in server: the flood comes from its
// address and is counted by answer, the real user from another and
// succeeds, and the run stops by itself.
func TestRunSignin(t *testing.T) {
	var flood, real atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if strings.HasPrefix(r.RemoteAddr, "127.0.0.1:") && r.PostForm.Get("email") == "me@example.com" && r.PostForm.Get("password") == "pw" {
			real.Add(1)
			http.SetCookie(w, &http.Cookie{Name: "vigil_session", Value: "x"})
			http.Redirect(w, r, "/board", http.StatusSeeOther)
			return
		}
		if !strings.HasPrefix(r.RemoteAddr, "127.0.0.2:") {
			t.Errorf("flood request from %s, want 127.0.0.2", r.RemoteAddr)
		}
		flood.Add(1)
		time.Sleep(5 * time.Millisecond) // leave the CPU to the real user
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	cfg := SigninConfig{URL: srv.URL, Email: "me@example.com", Password: "pw", Concurrency: 4,
		Duration: 1200 * time.Millisecond, FloodAddrs: []netip.Addr{netip.MustParseAddr("127.0.0.2")},
		RealAddr: netip.MustParseAddr("127.0.0.1"), Every: 200 * time.Millisecond, Sample: 50 * time.Millisecond,
		Timeout: 5 * time.Second}
	start := time.Now()
	res, err := RunSignin(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("run took %v, want it to stop after about 1.2 s", took)
	}
	if res.Flood[http.StatusTooManyRequests] == 0 || int64(res.Flood[http.StatusTooManyRequests]) > flood.Load() {
		t.Errorf("flood counted %v, server saw %d", res.Flood, flood.Load())
	}
	ok, answered := 0, 0
	for _, a := range res.Real {
		if a.OK {
			ok++
		}
		if a.Err != errCut { // one may be under way when the run ends
			answered++
		}
	}
	if ok < 1 || ok != answered {
		t.Errorf("real sign-ins: %d of %d answered ok (%+v), want all, at least one", ok, answered, res.Real)
	}
	var b strings.Builder
	WriteSigninText(&b, res)
	if !strings.Contains(b.String(), "real sign-ins") || !strings.Contains(b.String(), "429") {
		t.Errorf("text output:\n%s", b.String())
	}
}

// With Device, the real user signs in once before the flood and then
// presents the device cookie it got, renewed by each answer, as a
// returning browser does.
func TestRunSigninDevice(t *testing.T) {
	var issued, presented, stale atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.PostForm.Get("email") != "me@example.com" {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		if c, err := r.Cookie("vigil_device"); err == nil {
			presented.Add(1)
			if c.Value != "dev-"+strconv.FormatInt(issued.Load(), 10) {
				stale.Add(1)
			}
		}
		n := issued.Add(1)
		http.SetCookie(w, &http.Cookie{Name: "vigil_device", Value: "dev-" + strconv.FormatInt(n, 10)})
		http.SetCookie(w, &http.Cookie{Name: "vigil_session", Value: "x"})
		http.Redirect(w, r, "/board", http.StatusSeeOther)
	}))
	defer srv.Close()
	cfg := SigninConfig{URL: srv.URL, Email: "me@example.com", Password: "pw", Concurrency: 2,
		Duration: 700 * time.Millisecond, FloodAddrs: []netip.Addr{netip.MustParseAddr("127.0.0.2")},
		RealAddr: netip.MustParseAddr("127.0.0.1"), Every: 100 * time.Millisecond, Sample: 50 * time.Millisecond,
		Timeout: 5 * time.Second, Device: true}
	res, err := RunSignin(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Setup == nil || !res.Setup.OK || !res.Device {
		t.Fatalf("setup sign-in %+v, device %v: want a success with a device cookie", res.Setup, res.Device)
	}
	if p := presented.Load(); p < 1 || p != issued.Load()-1 {
		t.Errorf("device cookie presented %d times in %d sign-ins, want every one after the first", p, issued.Load())
	}
	if n := stale.Load(); n != 0 {
		t.Errorf("%d sign-ins presented an old device cookie, want the latest each time", n)
	}
	var b strings.Builder
	WriteSigninText(&b, res)
	if !strings.Contains(b.String(), "device cookie kept: true") {
		t.Errorf("text output:\n%s", b.String())
	}
}

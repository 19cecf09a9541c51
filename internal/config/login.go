package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Login bounds what password sign-ins may cost (the file's `login:`
// section; environment variables do not reach it). See docs/benchmarks.md,
// "Sign-in flood", for what these bought under a flood.
type Login struct {
	// HashSlots is how many password checks (argon2id, 19 MiB each) run
	// at once; 0 is one per CPU (GOMAXPROCS).
	HashSlots int `koanf:"hash_slots"`
	// HashQueue is how many attempts may wait for a slot; past it, 429
	// with Retry-After. 0: none wait.
	HashQueue int `koanf:"hash_queue"`
	// HashWait is how long an attempt waits for a slot at most.
	HashWait time.Duration `koanf:"hash_wait"`
	// AddrFailures is how many failed attempts one client address gets
	// in 15 minutes; AddrInFlight how many it may have under way at once.
	AddrFailures int `koanf:"addr_failures"`
	AddrInFlight int `koanf:"addr_in_flight"`
	// DeviceSlots is how many password checks of browsers with a device
	// cookie (returning users) run at once, in slots of their own;
	// DeviceFailures how many failures in 15 minutes lock such a cookie
	// out for 15 minutes.
	DeviceSlots    int `koanf:"device_slots"`
	DeviceFailures int `koanf:"device_failures"`
}

var loginKeys = map[string]bool{}

func init() {
	for _, k := range []string{"hash_slots", "hash_queue", "hash_wait", "addr_failures", "addr_in_flight",
		"device_slots", "device_failures"} {
		loginKeys["login."+k] = true
	}
}

// defaultLogin is the login section's defaults, the account service's.
func defaultLogin() Login {
	return Login{HashQueue: 4, HashWait: 2 * time.Second, AddrFailures: 20, AddrInFlight: 4,
		DeviceSlots: 2, DeviceFailures: 10}
}

// defaultLoginMap is defaultLogin as koanf keys.
func defaultLoginMap() map[string]any {
	d := defaultLogin()
	return map[string]any{
		"login.hash_slots": d.HashSlots, "login.hash_queue": d.HashQueue, "login.hash_wait": d.HashWait,
		"login.addr_failures": d.AddrFailures, "login.addr_in_flight": d.AddrInFlight,
		"login.device_slots": d.DeviceSlots, "login.device_failures": d.DeviceFailures,
	}
}

func (l Login) validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
		min  int
	}{
		{"hash_slots", l.HashSlots, 0}, {"hash_queue", l.HashQueue, 0},
		{"addr_failures", l.AddrFailures, 1}, {"addr_in_flight", l.AddrInFlight, 1},
		{"device_slots", l.DeviceSlots, 1}, {"device_failures", l.DeviceFailures, 1},
	} {
		if f.v < f.min {
			errs = append(errs, fmt.Errorf("login.%s %d: must be at least %d", f.name, f.v, f.min))
		}
	}
	if l.HashWait <= 0 || l.HashWait > time.Minute {
		errs = append(errs, fmt.Errorf("login.hash_wait %s: want more than 0 and at most 1m", l.HashWait))
	}
	return errors.Join(errs...)
}

// splitList splits entries that hold comma-separated lists, as an
// environment variable does, and drops empty ones.
func splitList(list []string) []string {
	var out []string
	for _, e := range list {
		for part := range strings.SplitSeq(e, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// ParseTrustedProxies reads trusted_proxies: CIDR prefixes or single
// addresses, IPv4 or IPv6.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(s); err == nil {
			a = a.Unmap().WithZone("")
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		errs = append(errs, fmt.Errorf("trusted_proxies %q: want an address or a CIDR prefix such as 10.0.0.0/8", s))
	}
	return out, errors.Join(errs...)
}

package auth

import (
	"context"
	"net"
)

type ipKey struct{}

// WithClientIP returns a context carrying the client's address, so that
// the audit log can say where an admin action came from.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, ipKey{}, ip)
}

// ClientIP returns the client's address in ctx; "" if none (the CLI, vigil
// itself).
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(ipKey{}).(string)
	return ip
}

// HostOf returns the address part of a request's RemoteAddr ("host:port"),
// or remoteAddr itself when it has no port.
func HostOf(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

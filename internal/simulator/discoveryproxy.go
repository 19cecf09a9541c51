package simulator

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// LoginHost is Entra ID's public authority host. MSAL Python (Azure CLI
// 2.45) asks https://LoginHost/common/discovery/instance about any
// authority it does not know, and az cannot turn that off.
const LoginHost = "login.microsoftonline.com"

// DiscoveryProxy makes LoginHost reachable for a client that cannot be
// told to skip instance discovery. It is an HTTP CONNECT proxy (the
// client's HTTPS_PROXY) that sends that one host to a TLS listener
// serving the simulator with a certificate for LoginHost, and tunnels
// every other host as asked. The simulator's answer there names the
// simulator's own endpoints, so MSAL carries on against it. The
// certificate comes from a CA of its own (CAPEM), which the client must
// trust besides the simulator's.
type DiscoveryProxy struct {
	// URL is the proxy's address as HTTPS_PROXY takes it
	// ("http://127.0.0.1:PORT").
	URL string
	// CAPEM is the CA certificate that issued the LoginHost certificate.
	CAPEM []byte

	log     *slog.Logger
	login   *http.Server
	proxy   *http.Server
	loginLn net.Listener

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// NewDiscoveryProxy starts the proxy on the loopback address addr
// ("127.0.0.1:0" for any port) in front of s. Only loopback addresses are
// accepted: an open proxy must not be offered to a network.
func NewDiscoveryProxy(s *Simulator, addr string) (*DiscoveryProxy, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("discovery proxy: address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("discovery proxy: address %q is not loopback; the proxy is for this machine only", addr)
	}
	ca, err := NewCA(LoginHost)
	if err != nil {
		return nil, fmt.Errorf("discovery proxy: %w", err)
	}
	loginLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("discovery proxy: login listener: %w", err)
	}
	pLn, err := net.Listen("tcp", addr)
	if err != nil {
		loginLn.Close()
		return nil, fmt.Errorf("discovery proxy: listen on %s: %w", addr, err)
	}
	p := &DiscoveryProxy{
		URL: "http://" + pLn.Addr().String(), CAPEM: ca.CertPEM,
		log: s.log.With("component", "simulator.discoveryproxy"), loginLn: loginLn,
		conns: map[net.Conn]struct{}{},
	}
	errLog := slog.NewLogLogger(p.log.Handler(), slog.LevelWarn)
	p.login = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{ca.Server}, MinVersion: tls.VersionTLS12},
		ErrorLog:          errLog,
	}
	p.proxy = &http.Server{Handler: http.HandlerFunc(p.connect), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
	go func() {
		if err := p.login.ServeTLS(loginLn, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Error("login listener", "err", err)
		}
	}()
	go func() {
		if err := p.proxy.Serve(pLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Error("proxy serve", "err", err)
		}
	}()
	return p, nil
}

// connect tunnels one CONNECT request.
func (p *DiscoveryProxy) connect(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	target := r.Host
	if h, _, err := net.SplitHostPort(target); err == nil && strings.EqualFold(h, LoginHost) {
		target = p.loginLn.Addr().String()
	}
	up, err := net.DialTimeout("tcp", target, 10*time.Second)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		up.Close()
		return
	}
	p.track(conn, true)
	p.track(up, true)
	defer func() {
		p.track(conn, false)
		p.track(up, false)
		conn.Close()
		up.Close()
	}()
	if _, err := conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		io.Copy(up, buf.Reader) // what the client sent, including anything buffered
		if tc, ok := up.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		close(done)
	}()
	io.Copy(conn, bufio.NewReader(up))
	conn.Close()
	<-done
}

// track remembers open tunnel ends so that Close can end them: hijacked
// connections are no longer the http.Server's.
func (p *DiscoveryProxy) track(c net.Conn, open bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if open {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

// Close stops the proxy and its login listener and ends open tunnels.
func (p *DiscoveryProxy) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := errors.Join(p.proxy.Shutdown(ctx), p.login.Shutdown(ctx))
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	return err
}

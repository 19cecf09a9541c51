// Package account signs people in and out and manages users and API
// tokens. It decides who may do what with accounts: every admin operation
// checks the actor's role here, not only in the HTTP handlers.
package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Store is what the service needs of the database; *store.DB implements it.
type Store interface {
	UserByEmail(ctx context.Context, email string) (store.User, error)
	UserByExternal(ctx context.Context, external string) (store.User, error)
	ListUsers(ctx context.Context) ([]store.User, error)
	AddUser(ctx context.Context, email string, role auth.Role, passwordHash string) (store.User, error)
	AddExternalUser(ctx context.Context, email, name, external string, role auth.Role) (store.User, error)
	UpdateUser(ctx context.Context, id int64, fn func(*store.User) error) (store.User, error)
	SetLastLogin(ctx context.Context, userID int64, at time.Time) error

	CreateSession(ctx context.Context, s store.Session) (store.Session, error)
	SessionByHash(ctx context.Context, hash string) (store.Session, error)
	TouchSession(ctx context.Context, id int64, lastSeen, expires time.Time) error
	DeleteSession(ctx context.Context, hash string) error
	DeleteUserSessions(ctx context.Context, userID int64) error
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)

	ListTokens(ctx context.Context) ([]store.Token, error)
	CreateToken(ctx context.Context, name string, role auth.Role) (string, store.Token, error)
	RevokeToken(ctx context.Context, id int64) error

	ListIntegrationKeys(ctx context.Context) ([]store.IntegrationKey, error)
	GetIntegrationKey(ctx context.Context, id int64) (store.IntegrationKey, error)
	CreateIntegrationKey(ctx context.Context, name, source, createdBy string) (string, store.IntegrationKey, error)
	RevokeIntegrationKey(ctx context.Context, id int64) error

	RecordAudit(ctx context.Context, e store.AuditEntry) error
	ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error)

	// SharedSecret holds the device cookies' key (device.go).
	SharedSecret(ctx context.Context, name string, fresh []byte) ([]byte, error)
}

// Options tunes the service.
type Options struct {
	IdleTimeout time.Duration // a session unused this long expires; default 12h
	MaxAge      time.Duration // a session's lifetime from sign-in; default 7 days
	Logger      *slog.Logger

	// What unauthenticated sign-in attempts may cost at once. Zero values
	// take the defaults.
	HashSlots    int           // password checks under way at once; default runtime.GOMAXPROCS(0)
	HashQueue    int           // attempts waiting for a slot; default 4, negative for none
	HashWait     time.Duration // how long an attempt waits for a slot; default 2s
	AddrFailures int           // failed attempts per client address in 15 minutes; default 20
	AddrInFlight int           // attempts under way per client address; default 4

	// The trusted lane: sign-ins with a valid device cookie (device.go)
	// check their password in slots of their own, so that a flood that
	// fills the slots above does not keep returning users out.
	DeviceSlots    int // password checks under way at once; default 2
	DeviceQueue    int // attempts waiting for one; default 16, negative for none
	DeviceFailures int // failures in 15 minutes that lock a device cookie out for 15 minutes; default 10
}

// Errors of sign-in.
var (
	// ErrBadCredentials answers every failed sign-in alike (unknown email,
	// wrong password, disabled or password-less user), so that the answer
	// does not tell which emails have accounts.
	ErrBadCredentials = errors.New("wrong email or password")
	// ErrThrottled refuses an email or a client address after too many
	// failed attempts, or an address with too many attempts under way.
	// SignIn returns it wrapped in a *RetryError.
	ErrThrottled = errors.New("too many failed sign-in attempts; try again in a few minutes")
	// ErrNoSession is an unknown, expired or ended session, or one of a
	// disabled user.
	ErrNoSession = fmt.Errorf("no such session: %w", validation.ErrNotFound)
)

// touchEvery is how stale a session's last-seen time may get before a
// request writes it again: sliding the expiry on every request would make
// each page view a database write.
const touchEvery = time.Minute

// Service is the account domain service. It is safe for concurrent use.
type Service struct {
	st      Store
	clock   clock.Clock
	idle    time.Duration
	maxAge  time.Duration
	log     *slog.Logger
	byEmail *throttle
	byAddr  *throttle
	gate    *gate
	check   func(encoded, password string) bool // auth.CheckPassword; tests count the hashes

	// The trusted lane (device.go).
	byDevice *throttle
	trusted  *gate
	devMu    sync.Mutex
	devKey   []byte // the device cookies' HMAC key, once loaded

	dummyOnce sync.Once
	dummy     string
}

// New returns a service on st.
func New(st Store, clk clock.Clock, o Options) *Service {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 12 * time.Hour
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 7 * 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	addr := addrLimit
	if o.AddrFailures > 0 {
		addr.failures = o.AddrFailures
	}
	if o.AddrInFlight > 0 {
		addr.inFlight = o.AddrInFlight
	}
	return &Service{st: st, clock: clk, idle: o.IdleTimeout, maxAge: o.MaxAge,
		log: o.Logger.With("component", "account"), byEmail: newThrottle(emailLimit), byAddr: newThrottle(addr),
		gate: newGate(o.HashSlots, o.HashQueue, o.HashWait), check: auth.CheckPassword,
		byDevice: newThrottle(deviceLimitOf(o)), trusted: trustedGate(o)}
}

// Meta is who is signing in from where, kept on the session for the
// admin page.
type Meta struct {
	UserAgent, IP string
	// Device is the device cookie the browser presented (device.go); ""
	// if none.
	Device string
}

// Identity is a user as an OpenID Connect provider vouches for them.
type Identity struct {
	Issuer, Subject string
	Email, Name     string
	Role            auth.Role // from the provider's claims; "" leaves the role to vigil
}

func normEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// dummyHash is a password hash to check against when there is no real
// one, so that a sign-in as an unknown user costs the same argon2 run as
// one with a wrong password.
func (s *Service) dummyHash() string {
	s.dummyOnce.Do(func() {
		h, err := auth.HashPassword(rand.Text() + rand.Text())
		if err != nil {
			panic(err) // only a too-short password fails
		}
		s.dummy = h
	})
	return s.dummy
}

// maxEmail is the longest email address (RFC 5321's path limit): a
// longer one has no account, and is refused without a hash or an entry in
// the email throttle.
const maxEmail = 254

// busyLogEvery is how often a refusal by the busy hash gate is logged at
// most; the log line counts the refusals since the last one.
const busyLogEvery = 10 * time.Second

// SignIn checks an email and password and starts a session. It returns
// the session token, to be handed to the browser and never stored.
//
// What an attempt may cost is bounded before its password is checked:
// per client address (m.IP) and per email, and across the process by the
// hash gate. A refusal is a *RetryError wrapping ErrThrottled or ErrBusy,
// and costs no hash. A browser that presents a valid device cookie for
// email (m.Device) takes the trusted lane instead (signInTrusted).
func (s *Service) SignIn(ctx context.Context, email, password string, m Meta) (string, store.Session, error) {
	if len(email) <= maxEmail {
		if dev, ok := s.trustedDevice(ctx, normEmail(email), m.Device); ok {
			return s.signInTrusted(ctx, normEmail(email), password, dev, m)
		}
	}
	key, addr := normEmail(email), addrKey(m.IP)
	now := s.clock.Now()
	if v := s.byAddr.begin(addr, now); !v.ok {
		s.refused(v, "too many attempts from this address", key, m.IP)
		return "", store.Session{}, &RetryError{Err: ErrThrottled, After: v.retryAfter}
	}
	if len(key) > maxEmail {
		s.byAddr.fail(addr, now)
		s.log.Warn("sign-in failed", "reason", "email too long", "ip", m.IP)
		return "", store.Session{}, ErrBadCredentials
	}
	if v := s.byEmail.begin(key, now); !v.ok {
		s.byAddr.cancel(addr)
		s.refused(v, "too many failed attempts for this email", key, m.IP)
		return "", store.Session{}, &RetryError{Err: ErrThrottled, After: v.retryAfter}
	}
	var u store.User
	var reason string
	err := s.gate.do(ctx, func() error {
		var err error
		u, reason, err = s.verify(ctx, key, password)
		return err
	})
	if err != nil {
		s.byAddr.cancel(addr)
		s.byEmail.cancel(key)
		if errors.Is(err, ErrBusy) {
			if n := s.gate.refusals(s.clock.Now(), busyLogEvery); n > 0 {
				s.log.Warn("sign-ins refused: password checks busy", "refused_since_last_line", n)
			}
		}
		return "", store.Session{}, err
	}
	if reason != "" {
		now := s.clock.Now()
		s.byAddr.fail(addr, now)
		locked := s.byEmail.fail(key, now)
		s.log.Warn("sign-in failed", "email", key, "reason", reason, "ip", m.IP, "locked", locked)
		return "", store.Session{}, ErrBadCredentials
	}
	s.byAddr.succeed(addr)
	s.byEmail.succeed(key)
	return s.start(ctx, u, m, "password")
}

// refused logs a sign-in refused by a throttle, once per key and window.
func (s *Service) refused(v verdict, why, email, ip string) {
	if v.log {
		s.log.Warn("sign-in refused", "reason", why, "email", email, "ip", ip,
			"retry_after", v.retryAfter.Round(time.Second))
	}
}

// verify looks up the user of email and checks password against the
// hash, in a slot of the hash gate. It returns why the sign-in fails, or
// "" for a success; then it also replaces a hash made with old parameters.
// An unknown email costs the same hash (of a dummy) as a wrong password,
// so that the time taken does not tell which emails have accounts.
func (s *Service) verify(ctx context.Context, email, password string) (store.User, string, error) {
	u, err := s.st.UserByEmail(ctx, email)
	if err != nil && !errors.Is(err, validation.ErrNotFound) {
		return store.User{}, "", fmt.Errorf("sign in: %w", err)
	}
	hash := u.PasswordHash
	if hash == "" {
		hash = s.dummyHash()
	}
	match := s.check(hash, password)
	switch {
	case u.ID == 0:
		return u, "unknown user", nil
	case u.PasswordHash == "":
		return u, "user has no password (single sign-on only)", nil
	case !match:
		return u, "wrong password", nil
	case u.Disabled:
		return u, "user disabled", nil
	}
	if auth.NeedsRehash(u.PasswordHash) {
		s.rehash(ctx, u, password)
	}
	return u, "", nil
}

// rehash stores a new hash of password, made with the current parameters,
// for u, whose stored hash was made with others. Failing that, the old
// hash still works: the failure is logged, and the sign-in goes on.
func (s *Service) rehash(ctx context.Context, u store.User, password string) {
	hash, err := auth.HashPassword(password)
	if err != nil {
		s.log.Warn("rehash password", "email", u.Email, "user_id", u.ID, "err", err)
		return
	}
	errChanged := errors.New("password changed meanwhile")
	_, err = s.st.UpdateUser(ctx, u.ID, func(x *store.User) error {
		if x.PasswordHash != u.PasswordHash {
			return errChanged // reset meanwhile: keep the new password
		}
		x.PasswordHash = hash
		return nil
	})
	switch {
	case errors.Is(err, errChanged):
	case err != nil:
		s.log.Warn("rehash password", "email", u.Email, "user_id", u.ID, "err", err)
	default:
		s.log.Info("password rehashed with current parameters", "email", u.Email, "user_id", u.ID)
	}
}

// SignInExternal starts a session for a user whom an OpenID Connect
// provider has authenticated. The user is found by issuer and subject;
// failing that, a user with the same email is linked to the identity if
// it has no password and no other identity (a password user is never
// taken over by whoever controls that email at the provider); failing
// that, the user is created with id.Role, or viewer. A non-empty id.Role
// replaces the user's role at each sign-in.
func (s *Service) SignInExternal(ctx context.Context, id Identity, m Meta) (string, store.Session, error) {
	if id.Issuer == "" || id.Subject == "" {
		return "", store.Session{}, errors.New("external sign-in: identity without issuer or subject")
	}
	if id.Role != "" {
		if _, err := auth.ParseRole(string(id.Role)); err != nil {
			return "", store.Session{}, fmt.Errorf("external sign-in: %w", err)
		}
	}
	ext := id.Issuer + "|" + id.Subject
	name := strings.TrimSpace(id.Name)
	u, err := s.st.UserByExternal(ctx, ext)
	if errors.Is(err, validation.ErrNotFound) {
		u, err = s.linkOrCreate(ctx, id, ext)
	}
	if err != nil {
		return "", store.Session{}, err
	}
	if (id.Role != "" && u.Role != id.Role) || (name != "" && u.Name != name) {
		u, err = s.st.UpdateUser(ctx, u.ID, func(x *store.User) error {
			if x.External != ext {
				return ErrBadCredentials // unlinked meanwhile
			}
			if id.Role != "" {
				x.Role = id.Role
			}
			if name != "" {
				x.Name = name
			}
			return nil
		})
		if err != nil {
			// Among others the last admin whom the provider demoted: the
			// demotion is refused, and so is the sign-in, rather than
			// keeping rights the provider has withdrawn.
			s.log.Warn("external sign-in refused: cannot update user", "email", normEmail(id.Email), "external", ext, "err", err)
			return "", store.Session{}, fmt.Errorf("external sign-in: %w", err)
		}
	}
	if u.Disabled {
		s.log.Warn("external sign-in failed", "email", u.Email, "reason", "user disabled", "ip", m.IP)
		return "", store.Session{}, ErrBadCredentials
	}
	return s.start(ctx, u, m, "oidc")
}

// linkOrCreate finds the user for an identity seen for the first time.
func (s *Service) linkOrCreate(ctx context.Context, id Identity, ext string) (store.User, error) {
	email := normEmail(id.Email)
	if email == "" {
		return store.User{}, validation.NewFieldError("email", "the identity provider gave no email address")
	}
	refuse := func() (store.User, error) {
		s.log.Warn("external sign-in refused: email belongs to a password user or another identity", "email", email, "external", ext)
		return store.User{}, ErrBadCredentials
	}
	u, err := s.st.UserByEmail(ctx, email)
	switch {
	case err == nil:
		if u.PasswordHash != "" || u.External != "" {
			return refuse()
		}
		u, err = s.st.UpdateUser(ctx, u.ID, func(x *store.User) error {
			if x.PasswordHash != "" || x.External != "" {
				return ErrBadCredentials
			}
			x.External = ext
			return nil
		})
		if errors.Is(err, ErrBadCredentials) {
			return refuse()
		}
		if err != nil {
			return store.User{}, fmt.Errorf("link user %s: %w", email, err)
		}
		s.log.Info("user linked to external identity", "email", email, "external", ext)
		return u, nil
	case !errors.Is(err, validation.ErrNotFound):
		return store.User{}, fmt.Errorf("external sign-in: %w", err)
	}
	role := id.Role
	if role == "" {
		role = auth.RoleViewer
	}
	u, err = s.st.AddExternalUser(ctx, email, id.Name, ext, role)
	var fe *validation.FieldError
	if errors.As(err, &fe) {
		// Another sign-in of the same identity created it meanwhile.
		if u, err2 := s.st.UserByExternal(ctx, ext); err2 == nil {
			return u, nil
		}
		return refuse()
	}
	if err != nil {
		return store.User{}, fmt.Errorf("external sign-in: %w", err)
	}
	s.log.Info("user created at first sign-in", "email", email, "external", ext, "role", role)
	return u, nil
}

// start creates a session for u.
func (s *Service) start(ctx context.Context, u store.User, m Meta, method string) (string, store.Session, error) {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	token := base64.RawURLEncoding.EncodeToString(b)
	now := s.clock.Now()
	sess, err := s.st.CreateSession(ctx, store.Session{Hash: auth.HashToken(token), UserID: u.ID,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: earliest(now.Add(s.idle), now.Add(s.maxAge)),
		UserAgent: truncate(m.UserAgent, 512), IP: truncate(m.IP, 64)})
	if err != nil {
		return "", store.Session{}, fmt.Errorf("sign in %s: %w", u.Email, err)
	}
	if err := s.st.SetLastLogin(ctx, u.ID, now); err != nil {
		s.log.Warn("record last login", "email", u.Email, "err", err)
	}
	s.log.Info("signed in", "email", u.Email, "user_id", u.ID, "method", method, "ip", m.IP)
	return token, sess, nil
}

// Session returns the live session of token and its actor, and slides its
// idle expiry. An unknown, expired or ended session, or one of a disabled
// user, is ErrNoSession.
func (s *Service) Session(ctx context.Context, token string) (store.Session, auth.Actor, error) {
	if token == "" {
		return store.Session{}, auth.Actor{}, ErrNoSession
	}
	hash := auth.HashToken(token)
	sess, err := s.st.SessionByHash(ctx, hash)
	if errors.Is(err, validation.ErrNotFound) {
		return store.Session{}, auth.Actor{}, ErrNoSession
	}
	if err != nil {
		return store.Session{}, auth.Actor{}, fmt.Errorf("session: %w", err)
	}
	now := s.clock.Now()
	deadline := sess.CreatedAt.Add(s.maxAge)
	if !now.Before(sess.ExpiresAt) || !now.Before(deadline) {
		if err := s.st.DeleteSession(ctx, hash); err != nil {
			s.log.Warn("delete expired session", "err", err)
		}
		return store.Session{}, auth.Actor{}, ErrNoSession
	}
	if sess.Disabled {
		return store.Session{}, auth.Actor{}, ErrNoSession
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		exp := earliest(now.Add(s.idle), deadline)
		err := s.st.TouchSession(ctx, sess.ID, now, exp)
		switch {
		case errors.Is(err, validation.ErrNotFound): // signed out meanwhile
			return store.Session{}, auth.Actor{}, ErrNoSession
		case err != nil:
			// The session is still good until its stored expiry.
			s.log.Warn("touch session", "user_id", sess.UserID, "err", err)
		default:
			sess.LastSeenAt, sess.ExpiresAt = now, exp
		}
	}
	return sess, auth.Actor{Kind: "user", ID: sess.UserID, Name: sess.Email, Role: sess.Role}, nil
}

// SignOut ends the session of token; ending an unknown one is not an error.
func (s *Service) SignOut(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	hash := auth.HashToken(token)
	sess, err := s.st.SessionByHash(ctx, hash)
	if errors.Is(err, validation.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	if err := s.st.DeleteSession(ctx, hash); err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	s.log.Info("signed out", "email", sess.Email, "user_id", sess.UserID)
	return nil
}

// PurgeExpired deletes the expired sessions; a janitor calls it now and
// then. It returns how many it deleted.
func (s *Service) PurgeExpired(ctx context.Context) (int64, error) {
	n, err := s.st.DeleteExpiredSessions(ctx, s.clock.Now())
	if err != nil {
		return 0, fmt.Errorf("purge expired sessions: %w", err)
	}
	if n > 0 {
		s.log.Debug("expired sessions purged", "count", n)
	}
	return n, nil
}

// CSRFToken returns the anti-CSRF token of a session: derived from the
// session token, so it needs no storage, and unguessable without it.
func CSRFToken(sessionToken string) string {
	sum := sha256.Sum256([]byte("vigil-csrf:" + sessionToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// CheckCSRF reports whether got is the CSRF token of the session, in
// constant time.
func CheckCSRF(sessionToken, got string) bool {
	if sessionToken == "" || got == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(CSRFToken(sessionToken)), []byte(got)) == 1
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// truncate bounds what the client chose to send before it is stored.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

var _ Store = (*store.DB)(nil)

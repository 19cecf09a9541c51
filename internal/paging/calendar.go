package paging

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/oncall"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/validation"
)

// Calendar feeds: a secret URL per user or per schedule, for Outlook and
// Google Calendar, which fetch it without signing in. Only the token's
// hash is stored; the URL is shown once, when the feed is made.

// Feed window: what a feed holds around now.
const (
	feedPast   = 14 * 24 * time.Hour
	feedFuture = 60 * 24 * time.Hour
)

func feedHash(token string) string {
	h := sha256.Sum256([]byte("vigil calendar feed\x00" + token))
	return hex.EncodeToString(h[:])
}

// CalendarFeed makes a feed of a user's shifts (their own, or anyone's
// for an admin) or of a schedule's, and returns its secret token.
func (s *Pager) CalendarFeed(ctx context.Context, actor auth.Actor, kind, name string) (string, store.CalendarFeed, error) {
	switch kind {
	case "user":
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" && actor.Kind == "user" {
			name = strings.ToLower(actor.Name)
		}
		if err := self(actor, name); err != nil {
			return "", store.CalendarFeed{}, err
		}
	case KindSchedule:
		if err := actor.Check(auth.ActionRead); err != nil {
			return "", store.CalendarFeed{}, err
		}
		if _, err := s.st.GetOnCallDef(ctx, KindSchedule, name); err != nil {
			return "", store.CalendarFeed{}, validation.NewFieldError("name", "no schedule named %q", name)
		}
	default:
		return "", store.CalendarFeed{}, validation.NewFieldError("kind", "must be user or schedule")
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", store.CalendarFeed{}, err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	f, err := s.st.AddCalendarFeed(ctx, feedHash(token), kind, name, actor.String())
	return token, f, err
}

// CalendarICS renders a feed by its token: the shifts from two weeks ago
// to two months ahead, in RFC 5545.
func (s *Pager) CalendarICS(ctx context.Context, token string) ([]byte, error) {
	f, err := s.st.CalendarFeedByHash(ctx, feedHash(token))
	if err != nil {
		return nil, err
	}
	now := s.o.Clock.Now()
	from, to := now.Add(-feedPast), now.Add(feedFuture)
	var shifts []oncall.Shift
	title := f.Name
	switch f.Kind {
	case KindSchedule:
		sc, err := s.schedule(ctx, f.Name)
		if err != nil {
			return nil, err
		}
		shifts = sc.Shifts(from, to)
		title = "vigil on call: " + f.Name
	case "user":
		defs, err := s.st.ListOnCallDefs(ctx, KindSchedule)
		if err != nil {
			return nil, err
		}
		for _, d := range defs {
			sc, err := s.schedule(ctx, d.Name)
			if err != nil {
				s.log.Warn("calendar feed: schedule", "schedule", d.Name, "err", err)
				continue
			}
			for _, sh := range oncall.ForUser(sc.Shifts(from, to), f.Name) {
				sh.Layer = d.Name
				shifts = append(shifts, sh)
			}
		}
		title = "vigil on call: " + f.Name
	default:
		return nil, errors.New("calendar feed: unknown kind " + f.Kind)
	}
	b, err := oncall.ICS(title, shifts, now)
	if err != nil {
		return nil, fmt.Errorf("calendar feed: %w", err)
	}
	return b, nil
}

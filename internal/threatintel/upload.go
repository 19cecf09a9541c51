package threatintel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/intel"
	"github.com/vigil-soc/vigil/internal/outbox"
	"github.com/vigil-soc/vigil/internal/store"
	"github.com/vigil-soc/vigil/internal/tiupload"
	"github.com/vigil-soc/vigil/internal/workitem"
)

// uploadLag is how far behind the clock the upload reads changes: longer
// than any transaction that stamps them (a thousand indicators at most).
const uploadLag = 10 * time.Second

// UploadName is the Sentinel upload module's name, and the name its
// cursor and last run are kept under beside the feeds'.
const UploadName = "upload:sentinel"

// UploadStore is what the upload module reads and writes.
type UploadStore interface {
	IndicatorChangesIn(ctx context.Context, now, from, to time.Time, fn func(in intel.Indicator, live bool)) error
	FeedRunOf(ctx context.Context, name string) (store.FeedRun, error)
	SaveFeedRun(ctx context.Context, f store.FeedRun, passErr error) error
	Enqueue(ctx context.Context, msgs []outbox.Message, entries []workitem.Entry) (int, error)
}

// UploadOptions select what goes to Sentinel.
type UploadOptions struct {
	// MinConfidence leaves out indicators below it (0: all).
	MinConfidence int
	// Feeds, when set, uploads only indicators listed by one of them:
	// Sentinel may already import a feed (OTX, say) by its own connector.
	Feeds []string
	// Targets are the outbox targets, one per workspace, each batch is
	// queued for (default tiupload.Target).
	Targets []string
	Clock   clock.Clock
	Log     *slog.Logger
}

// Uploader pushes vigil's indicators to the Sentinel workspace through
// the STIX-objects upload API (an engine module): every indicator
// changed since its cursor, a new version of each STIX object — expired
// indicators with their valid_until, allow-listed ones revoked — in
// batches within the API's limits, queued in the outbox, which honours
// 429 and Retry-After and never drops one.
type Uploader struct {
	st  UploadStore
	o   UploadOptions
	log *slog.Logger
}

// NewUploader returns the module.
func NewUploader(st UploadStore, o UploadOptions) *Uploader {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if len(o.Targets) == 0 {
		o.Targets = []string{tiupload.Target}
	}
	return &Uploader{st: st, o: o, log: o.Log.With("component", "ti-upload")}
}

// Name is the module's name.
func (u *Uploader) Name() string { return UploadName }

// UpdateAll queues the indicators changed since the last pass.
func (u *Uploader) UpdateAll(ctx context.Context) error {
	run, err := u.st.FeedRunOf(ctx, UploadName)
	if err != nil {
		return err
	}
	var since time.Time
	if run.Cursor != "" {
		us, err := strconv.ParseInt(run.Cursor, 10, 64)
		if err != nil {
			return fmt.Errorf("ti upload: bad cursor %q: %w", run.Cursor, err)
		}
		since = time.UnixMicro(us)
	}
	now := u.o.Clock.Now()
	// Each pass takes the changes in [cursor, now - uploadLag): a change
	// is stamped when its transaction starts and seen when it commits, so
	// the lag lets every transaction stamped before the pass's end commit
	// first; each change is then queued once.
	next := now.Add(-uploadLag)
	if !next.After(since) {
		return nil
	}
	var objs []json.RawMessage
	skipped := 0
	var errs []error
	err = u.st.IndicatorChangesIn(ctx, now, since, next, func(in intel.Indicator, live bool) {
		if in.Confidence < u.o.MinConfidence || (len(u.o.Feeds) > 0 && !overlaps(in.Feeds, u.o.Feeds)) {
			return
		}
		var o json.RawMessage
		var err error
		switch {
		case live:
			o, err = tiupload.STIX(in, now)
		case !in.ValidUntil.IsZero() && !in.ValidUntil.After(now):
			o, err = tiupload.STIX(in, now) // expired: its valid_until says so
			if errors.Is(err, tiupload.ErrExpiredBeforeValid) {
				o, err = tiupload.Revoked(in, now)
			}
		default: // allow-listed
			o, err = tiupload.Revoked(in, now)
		}
		if err != nil {
			skipped++
			if len(errs) < 5 {
				errs = append(errs, err)
			}
			return
		}
		objs = append(objs, o)
	})
	if err != nil {
		return errors.Join(err, u.st.SaveFeedRun(ctx, run, err))
	}
	var msgs []outbox.Message
	for _, b := range tiupload.Batches(objs, tiupload.MaxObjects, tiupload.MaxBytes) {
		m, err := tiupload.Message(b)
		if err != nil {
			return err
		}
		for _, t := range u.o.Targets {
			m := m
			m.Target = t
			m.IdemKey = t + "/" + m.IdemKey
			msgs = append(msgs, m)
		}
	}
	// In chunks, one transaction each: a first pass over a million
	// indicators is ten thousand batches.
	for chunk := range slices.Chunk(msgs, 500) {
		if _, err := u.st.Enqueue(ctx, chunk, nil); err != nil {
			return errors.Join(err, u.st.SaveFeedRun(ctx, run, err))
		}
	}
	run.Cursor = strconv.FormatInt(next.UnixMicro(), 10)
	run.Added, run.Skipped = len(objs), skipped
	if len(objs) > 0 || skipped > 0 {
		u.log.Info("indicators queued for Sentinel", "objects", len(objs), "batches", len(msgs), "skipped", skipped, "examples", errors.Join(errs...))
	}
	return u.st.SaveFeedRun(ctx, run, nil)
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

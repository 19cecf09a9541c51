package feeds

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-soc/vigil/internal/validation"
)

// fileCursor identifies a file's version by modification time and size.
func fileCursor(fi os.FileInfo) string {
	return url.Values{"mtime": {strconv.FormatInt(fi.ModTime().UnixNano(), 10)}, "size": {strconv.FormatInt(fi.Size(), 10)}}.Encode()
}

// STIXFile is a Feed over a STIX 2.1 bundle file. A pass reads the whole
// file when its modification time or size differs from the cursor's, and
// reads nothing (Pages 0) otherwise.
type STIXFile struct {
	FeedName string // Name(); default "stix-file"
	Path     string
}

// NewSTIXFile returns a Feed over the bundle at path.
func NewSTIXFile(name, path string) (*STIXFile, error) {
	if path == "" {
		return nil, validation.NewFieldError("path", "is required")
	}
	if name == "" {
		name = "stix-file"
	}
	return &STIXFile{FeedName: name, Path: path}, nil
}

// Name implements Feed.
func (f *STIXFile) Name() string { return f.FeedName }

// Pass implements Feed.
func (f *STIXFile) Pass(ctx context.Context, cursor string) (Result, error) {
	file, err := os.Open(f.Path)
	if err != nil {
		return Result{Cursor: cursor}, fmt.Errorf("stix file: %w", err)
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return Result{Cursor: cursor}, fmt.Errorf("stix file: %w", err)
	}
	now := fileCursor(fi)
	if now == cursor {
		return Result{Cursor: cursor}, nil
	}
	res := Result{Pages: 1, Cursor: now}
	skipped, err := ParseSTIX(bufio.NewReaderSize(ctxReader{ctx, file}, 256<<10), func(ind Indicator) { res.Indicators = append(res.Indicators, ind) })
	if err != nil {
		return Result{Cursor: cursor}, fmt.Errorf("stix file %s: %w", f.Path, err)
	}
	res.Skipped = skipped
	return res, nil
}

// ctxReader stops a long read when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// CSVFileConfig configures a CSV feed.
type CSVFileConfig struct {
	Name       string // Name(); default "csv"
	Source     string // a file path, or an http(s) URL
	CSV        CSVConfig
	HTTPClient *http.Client
	Header     http.Header // extra request headers for URLs (an API key, say); never in errors
	Now        func() time.Time
}

// CSVFile is a Feed over a CSV list in a file or at a URL. For a file the
// cursor is its modification time and size; for a URL the response's ETag
// and Last-Modified, sent back as If-None-Match/If-Modified-Since, so that
// an unchanged list answers 304 and the pass reads nothing. A URL that sends
// neither is read in full every pass.
type CSVFile struct{ cfg CSVFileConfig }

// NewCSVFile validates cfg and returns the feed.
func NewCSVFile(cfg CSVFileConfig) (*CSVFile, error) {
	if cfg.Source == "" {
		return nil, validation.NewFieldError("source", "is required")
	}
	if cfg.Name == "" {
		cfg.Name = "csv"
	}
	if err := cfg.CSV.validate(); err != nil {
		return nil, err
	}
	cfg.Now = nowFunc(cfg.Now)
	return &CSVFile{cfg: cfg}, nil
}

// Name implements Feed.
func (f *CSVFile) Name() string { return f.cfg.Name }

func (f *CSVFile) isURL() bool {
	return strings.HasPrefix(f.cfg.Source, "http://") || strings.HasPrefix(f.cfg.Source, "https://")
}

// Pass implements Feed.
func (f *CSVFile) Pass(ctx context.Context, cursor string) (Result, error) {
	if !f.isURL() {
		file, err := os.Open(f.cfg.Source)
		if err != nil {
			return Result{Cursor: cursor}, fmt.Errorf("csv file: %w", err)
		}
		defer file.Close()
		fi, err := file.Stat()
		if err != nil {
			return Result{Cursor: cursor}, fmt.Errorf("csv file: %w", err)
		}
		now := fileCursor(fi)
		if now == cursor {
			return Result{Cursor: cursor}, nil
		}
		return f.parse(ctxReader{ctx, file}, now, cursor)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.cfg.Source, nil)
	if err != nil {
		return Result{Cursor: cursor}, fmt.Errorf("csv url: %w", err)
	}
	var secrets []string
	for k, vs := range f.cfg.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
			secrets = append(secrets, v)
		}
	}
	if prev, err := url.ParseQuery(cursor); err == nil {
		if v := prev.Get("etag"); v != "" {
			req.Header.Set("If-None-Match", v)
		}
		if v := prev.Get("lm"); v != "" {
			req.Header.Set("If-Modified-Since", v)
		}
	}
	resp, body, err := doHTTP(f.cfg.HTTPClient, req, f.cfg.Now(), secrets...)
	if err != nil {
		return Result{Cursor: cursor}, fmt.Errorf("csv url: %w", err)
	}
	if resp.StatusCode == http.StatusNotModified {
		return Result{Cursor: cursor, Pages: 1}, nil
	}
	next := url.Values{}
	if v := resp.Header.Get("ETag"); v != "" {
		next.Set("etag", v)
	}
	if v := resp.Header.Get("Last-Modified"); v != "" {
		next.Set("lm", v)
	}
	return f.parse(bytes.NewReader(body), next.Encode(), cursor)
}

func (f *CSVFile) parse(r io.Reader, next, old string) (Result, error) {
	res := Result{Pages: 1, Cursor: next}
	skipped, err := ParseCSV(r, f.cfg.CSV, func(ind Indicator) {
		if ind.Ref == "" {
			ind.Ref = f.cfg.Name
		}
		res.Indicators = append(res.Indicators, ind)
	})
	if err != nil {
		return Result{Cursor: old}, fmt.Errorf("csv %s: %w", f.cfg.Name, err)
	}
	res.Skipped = skipped
	return res, nil
}

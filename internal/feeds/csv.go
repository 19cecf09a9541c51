package feeds

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/vigil-soc/vigil/internal/validation"
)

// CSVConfig names the columns of a CSV indicator list. Column names are
// matched against the header row case-insensitively.
type CSVConfig struct {
	TypeColumn       string // optional; DefaultType when empty or the cell is blank
	ValueColumn      string // default "value"
	ConfidenceColumn string // optional; an integer 0–100
	TagsColumn       string // optional; tags separated by ';', ',' or '|'
	DefaultType      string // the type when there is no type column or the cell is blank
	Comment          rune   // lines starting with it are ignored; 0: none
}

func (c CSVConfig) validate() error {
	if c.TypeColumn == "" && c.DefaultType == "" {
		return validation.NewFieldError("default_type", "is required when there is no type column")
	}
	if c.DefaultType != "" && csvType(c.DefaultType) == "" {
		return validation.NewFieldError("default_type", "unknown indicator type %q", c.DefaultType)
	}
	return nil
}

// csvTypes accepts vigil's type names and the usual aliases lists use.
var csvTypes = map[string]string{
	"ip": TypeIP, "ipv4": TypeIP, "ipv6": TypeIP, "ip-src": TypeIP, "ip-dst": TypeIP, "ipv4-addr": TypeIP, "ipv6-addr": TypeIP,
	"cidr": TypeCIDR, "network": TypeCIDR,
	"domain": TypeDomain, "hostname": TypeDomain, "domain-name": TypeDomain, "fqdn": TypeDomain,
	"url": TypeURL, "uri": TypeURL,
	"md5": TypeMD5, "filehash-md5": TypeMD5,
	"sha1": TypeSHA1, "sha-1": TypeSHA1, "filehash-sha1": TypeSHA1,
	"sha256": TypeSHA256, "sha-256": TypeSHA256, "filehash-sha256": TypeSHA256,
	"email": TypeEmail, "email-addr": TypeEmail,
}

func csvType(s string) string { return csvTypes[strings.ToLower(strings.TrimSpace(s))] }

// ParseCSV reads a CSV list with a header row and emits one indicator per
// row. A missing header or value column, or a read error, is an error; a
// row that does not fit (wrong number of fields, a bad quote, an unknown
// type, a bad value or confidence) is skipped and counted.
func ParseCSV(r io.Reader, cfg CSVConfig, emit func(Indicator)) (skipped int, err error) {
	if err := cfg.validate(); err != nil {
		return 0, err
	}
	cr := csv.NewReader(r)
	cr.Comment = cfg.Comment
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return 0, errors.New("csv: no header row")
		}
		return 0, fmt.Errorf("csv: header: %w", err)
	}
	cols := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := cols[h]; !dup {
			cols[h] = i
		}
	}
	find := func(name string) (int, error) {
		if name == "" {
			return -1, nil
		}
		i, ok := cols[strings.ToLower(strings.TrimSpace(name))]
		if !ok {
			return -1, fmt.Errorf("csv: header has no column %q", name)
		}
		return i, nil
	}
	valueName := cfg.ValueColumn
	if valueName == "" {
		valueName = "value"
	}
	vi, err := find(valueName)
	if err != nil {
		return 0, err
	}
	ti, err := find(cfg.TypeColumn)
	if err != nil {
		return 0, err
	}
	ci, err := find(cfg.ConfidenceColumn)
	if err != nil {
		return 0, err
	}
	gi, err := find(cfg.TagsColumn)
	if err != nil {
		return 0, err
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return skipped, nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			skipped++ // the reader resumes at the next line
			continue
		}
		if err != nil {
			return skipped, fmt.Errorf("csv: %w", err)
		}
		ind := Indicator{Value: rec[vi], Confidence: DefaultConfidence}
		typ := cfg.DefaultType
		if ti >= 0 && strings.TrimSpace(rec[ti]) != "" {
			typ = rec[ti]
		}
		ind.Type = csvType(typ)
		if ci >= 0 && strings.TrimSpace(rec[ci]) != "" {
			c, err := strconv.Atoi(strings.TrimSpace(rec[ci]))
			if err != nil || c < 0 || c > 100 {
				skipped++
				continue
			}
			ind.Confidence = c
		}
		if gi >= 0 {
			ind.Tags = appendTags(nil, strings.FieldsFunc(rec[gi], func(r rune) bool { return r == ';' || r == ',' || r == '|' })...)
		}
		if !checkIndicator(&ind) {
			skipped++
			continue
		}
		emit(ind)
	}
}

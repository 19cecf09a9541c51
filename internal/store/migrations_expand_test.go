package store

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// Migrations expand, then contract: while a rolling upgrade runs,
// release N and N+1 share one database, so a migration of N+1 may only
// add (tables, nullable or defaulted columns, indexes). Dropping or
// renaming something, changing a column's type or making it NOT NULL
// breaks release N mid-upgrade; that is a contract step, allowed only in
// a later release than the one that stopped using the thing, and marked
// with a "-- contract: …" comment saying which release that was.
var contractSteps = []struct {
	what string
	re   *regexp.Regexp
}{
	{"drops a table", regexp.MustCompile(`(?i)\bDROP\s+TABLE\b`)},
	{"drops a column", regexp.MustCompile(`(?i)\bDROP\s+COLUMN\b`)},
	{"renames", regexp.MustCompile(`(?i)\bRENAME\b`)},
	{"changes a column's type", regexp.MustCompile(`(?i)\bALTER\s+COLUMN\s+\S+\s+(SET\s+DATA\s+)?TYPE\b`)},
	{"makes a column NOT NULL", regexp.MustCompile(`(?i)\bALTER\s+COLUMN\s+\S+\s+SET\s+NOT\s+NULL\b`)},
	{"adds a NOT NULL column without a default", regexp.MustCompile(`(?i)\bADD\s+COLUMN\b[^;]*\bNOT\s+NULL\b`)},
}

// upSection is the part of a goose migration that runs on the way up.
func upSection(sql string) string {
	up := sql
	if i := strings.Index(up, "+goose Up"); i >= 0 {
		up = up[i:]
	}
	if i := strings.Index(up, "+goose Down"); i >= 0 {
		up = up[:i]
	}
	return up
}

func TestMigrationsOnlyExpand(t *testing.T) {
	// 00001 to 00006 predate several instances sharing a database.
	const firstShared = 7
	for _, dialect := range []string{"sqlite", "postgres"} {
		files, err := fs.Glob(migrations, "migrations/"+dialect+"/*.sql")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			var version int
			name := f[strings.LastIndex(f, "/")+1:]
			for _, c := range name {
				if c < '0' || c > '9' {
					break
				}
				version = version*10 + int(c-'0')
			}
			if version < firstShared {
				continue
			}
			b, err := fs.ReadFile(migrations, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, stmt := range strings.Split(upSection(string(b)), ";") {
				if strings.Contains(stmt, "-- contract:") {
					continue
				}
				code := stripComments(stmt)
				for _, c := range contractSteps {
					if !c.re.MatchString(code) {
						continue
					}
					if c.what == "adds a NOT NULL column without a default" && regexp.MustCompile(`(?i)\bDEFAULT\b`).MatchString(code) {
						continue
					}
					t.Errorf("%s %s: %q; a migration may only expand (see this test), or mark a contract step with -- contract: …",
						f, c.what, strings.TrimSpace(code))
				}
			}
		}
	}
}

func stripComments(stmt string) string {
	var out []string
	for _, l := range strings.Split(stmt, "\n") {
		if i := strings.Index(l, "--"); i >= 0 {
			l = l[:i]
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func TestContractStepsAreCaught(t *testing.T) {
	for _, stmt := range []string{
		"ALTER TABLE alerts DROP COLUMN firing", "DROP TABLE sessions", "ALTER TABLE a RENAME COLUMN x TO y",
		"ALTER TABLE a ALTER COLUMN x TYPE BIGINT", "ALTER TABLE a ALTER COLUMN x SET NOT NULL",
		"ALTER TABLE a ADD COLUMN x TEXT NOT NULL",
	} {
		hit := false
		for _, c := range contractSteps {
			hit = hit || c.re.MatchString(stmt)
		}
		if !hit {
			t.Errorf("%q is not recognised as a contract step", stmt)
		}
	}
}

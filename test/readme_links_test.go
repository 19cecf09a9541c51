package test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestMarkdownLinks: README.md and every other Markdown file in the
// repository link only to files inside the repository that exist, and to
// headings that exist. A reader of a clone (or of the repository on a
// forge) has nothing else: a link to ../shared/… or to a missing file is
// a dead end. Links to web pages (https://…) are not checked.
func TestMarkdownLinks(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	files := markdownFiles(t, root)
	if len(files) == 0 || files[0] != "README.md" {
		t.Fatalf("markdown files = %v, want README.md first", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, problem := range checkLinks(root, f, string(b)) {
			t.Errorf("%s: %s", f, problem)
		}
	}
}

// TestCheckLinks holds the checker to what it must refuse.
func TestCheckLinks(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "docs"), 0o755)
	os.WriteFile(filepath.Join(root, "docs", "design.md"), []byte("# Design\n\n## The model, in short\n"), 0o644)
	os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644)
	for _, tc := range []struct {
		name, file, text string
		bad              bool
	}{
		{"file in the repo", "README.md", "[design](docs/design.md)", false},
		{"file and heading", "README.md", "see [the model](docs/design.md#the-model-in-short).", false},
		{"heading here", "README.md", "# Two commands\n[x](#two-commands)", false},
		{"image", "README.md", "![shot](go.mod)", false},
		{"web page", "README.md", "[htmx](https://htmx.org) and <https://example.com>", false},
		{"code span is not a link", "README.md", "`[x](../nowhere)`", false},
		{"fenced code is not a link", "README.md", "```\n[x](../nowhere)\n```", false},
		{"relative from docs", "docs/design.md", "[readme](../go.mod)", false},
		{"leaves the repo", "README.md", "[design](../shared/DESIGN.md)", true},
		{"leaves the repo from docs", "docs/design.md", "[x](../../shared/DESIGN.md)", true},
		{"absolute path", "README.md", "[x](/etc/passwd)", true},
		{"file URL", "README.md", "[x](file:///etc/passwd)", true},
		{"missing file", "README.md", "[x](docs/missing.md)", true},
		{"missing heading", "README.md", "[x](docs/design.md#nope)", true},
		{"missing heading here", "README.md", "# Title\n[x](#nope)", true},
	} {
		got := checkLinks(root, tc.file, tc.text)
		if (len(got) > 0) != tc.bad {
			t.Errorf("%s: %q in %s: problems %q, want bad=%v", tc.name, tc.text, tc.file, got, tc.bad)
		}
	}
}

// markdownFiles lists the repository's Markdown files, README.md first,
// skipping hidden directories and test artifacts.
func markdownFiles(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || rel == "artifacts" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".md") {
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range out {
		if f == "README.md" {
			out[0], out[i] = out[i], out[0]
		}
	}
	return out
}

var (
	mdLink    = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	mdHeading = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*#*\s*$`)
	codeSpan  = regexp.MustCompile("`[^`\n]*`")
	fence     = regexp.MustCompile("(?ms)^\\s*```.*?^\\s*```")
)

// checkLinks returns what is wrong with the links of file (relative to
// root), whose text is text.
func checkLinks(root, file, text string) []string {
	text = fence.ReplaceAllString(text, "")
	text = codeSpan.ReplaceAllString(text, "")
	var problems []string
	for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
		if p := checkLink(root, file, text, m[1]); p != "" {
			problems = append(problems, p)
		}
	}
	return problems
}

func checkLink(root, file, text, target string) string {
	lower := strings.ToLower(target)
	switch {
	case strings.HasPrefix(lower, "http://"), strings.HasPrefix(lower, "https://"), strings.HasPrefix(lower, "mailto:"):
		return ""
	case strings.Contains(lower, "://") || strings.HasPrefix(lower, "file:"):
		return fmt.Sprintf("link %s is not a web page nor a file of the repository", target)
	case strings.HasPrefix(target, "/"):
		return fmt.Sprintf("link %s is an absolute path; link relative to %s", target, file)
	}
	path, anchor, _ := strings.Cut(target, "#")
	if path == "" {
		if anchor != "" && !hasHeading(text, anchor) {
			return fmt.Sprintf("link %s: no such heading in %s", target, file)
		}
		return ""
	}
	abs := filepath.Join(root, filepath.Dir(file), filepath.FromSlash(path))
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Sprintf("link %s leaves the repository", target)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return fmt.Sprintf("link %s: no such file in the repository (%s)", target, filepath.ToSlash(rel))
	}
	if anchor != "" && !st.IsDir() && strings.HasSuffix(abs, ".md") {
		b, err := os.ReadFile(abs)
		if err != nil || !hasHeading(string(b), anchor) {
			return fmt.Sprintf("link %s: no such heading in %s", target, filepath.ToSlash(rel))
		}
	}
	return ""
}

// hasHeading reports whether a Markdown text has a heading whose anchor,
// as GitHub makes it, is anchor.
func hasHeading(text, anchor string) bool {
	text = fence.ReplaceAllString(text, "")
	for _, m := range mdHeading.FindAllStringSubmatch(text, -1) {
		if headingAnchor(m[1]) == strings.ToLower(anchor) {
			return true
		}
	}
	return false
}

// headingAnchor is GitHub's anchor of a heading: lower case, spaces to
// hyphens, punctuation other than hyphens and underscores dropped.
func headingAnchor(h string) string {
	h = strings.ToLower(strings.ReplaceAll(h, "`", ""))
	var b strings.Builder
	for _, r := range h {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 127 && !strings.ContainsRune("’‘“”…—–↔→", r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

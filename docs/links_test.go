// Package docs holds no code: its tests check that the relative links of
// the repository's Markdown (README.md, BENCHMARKS.md, docs/) lead
// somewhere (the file exists and the #anchor is one of its headings, as
// GitHub renders them), and that every identifier, file and directory
// architecture.md cites exists in the code (identifiers_test.go).
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

func TestRelativeLinksAndAnchorsResolve(t *testing.T) {
	files, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	top, _ := filepath.Glob("../*.md")
	files = append(files, top...)
	if len(files) < 5 {
		t.Fatalf("found only %v", files)
	}
	anchors := map[string]map[string]bool{} // cleaned path → anchors
	anchorsOf := func(path string) map[string]bool {
		if a, ok := anchors[path]; ok {
			return a
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		anchors[path] = headingAnchors(string(b))
		return anchors[path]
	}
	checked := 0
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range links(string(b)) {
			if l.target == "" || strings.Contains(l.target, "://") || strings.HasPrefix(l.target, "mailto:") {
				continue
			}
			checked++
			path, anchor, _ := strings.Cut(l.target, "#")
			dest := filepath.Clean(file)
			if path != "" {
				dest = filepath.Join(filepath.Dir(file), path)
				if _, err := os.Stat(dest); err != nil {
					t.Errorf("%s:%d: link to %s: no such file or directory", file, l.line, l.target)
					continue
				}
			}
			if anchor != "" && strings.HasSuffix(dest, ".md") && !anchorsOf(dest)[anchor] {
				t.Errorf("%s:%d: link to %s: %s has no heading with the anchor #%s", file, l.line, l.target, dest, anchor)
			}
		}
	}
	if checked < 50 {
		t.Errorf("only %d relative links checked; the reading of links is broken", checked)
	}
}

// Headings become anchors as GitHub makes them.
func TestHeadingAnchors(t *testing.T) {
	md := "# Title\n\n## Conditions: `where`\n\n```\n## not a heading\n```\n\n" +
		"## Thread state: `state_dir/threads.jsonl`\n## 4. Publish the page through the gateway's TLS proxy\n" +
		"### The state moves only by events that fit the request's life\n## Title\n## 🚀 Émoji & co\n" +
		"    ## indented code\n"
	got := headingAnchors(md)
	for _, want := range []string{"title", "conditions-where", "thread-state-state_dirthreadsjsonl",
		"4-publish-the-page-through-the-gateways-tls-proxy", "the-state-moves-only-by-events-that-fit-the-requests-life",
		"title-1", "-émoji--co"} {
		if !got[want] {
			t.Errorf("no anchor %q in %v", want, got)
		}
	}
	if got["not-a-heading"] || got["indented-code"] || len(got) != 7 {
		t.Errorf("anchors from code: %v", got)
	}
}

type link struct {
	target string
	line   int
}

var (
	inlineLink = regexp.MustCompile(`\]\(([^()\s]*)(?:\s+"[^"]*")?\)`)
	refLink    = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s+(\S+)`)
	codeSpan   = regexp.MustCompile("`+[^`]*`+")
	htmlAnchor = regexp.MustCompile(`<a\s+(?:name|id)="([^"]+)"`)
)

// links returns the inline and reference link targets outside code.
func links(md string) []link {
	var out []link
	for n, l := range prose(md) {
		if l == "" {
			continue
		}
		if m := refLink.FindStringSubmatch(l); m != nil {
			out = append(out, link{m[1], n + 1})
			continue
		}
		for _, m := range inlineLink.FindAllStringSubmatch(codeSpan.ReplaceAllString(l, ""), -1) {
			out = append(out, link{strings.Trim(m[1], "<>"), n + 1})
		}
	}
	return out
}

// headingAnchors returns the anchors of the document's headings (and of
// explicit <a name|id="…"> tags).
func headingAnchors(md string) map[string]bool {
	out := map[string]bool{}
	for _, l := range prose(md) {
		for _, m := range htmlAnchor.FindAllStringSubmatch(l, -1) {
			out[m[1]] = true
		}
		if !strings.HasPrefix(l, "#") {
			continue
		}
		text := strings.TrimLeft(l, "#")
		if text != "" && text[0] != ' ' {
			continue // "#hashtag", not a heading
		}
		slug := slugify(strings.TrimRight(strings.TrimSpace(text), "# "))
		anchor := slug
		for i := 1; out[anchor]; i++ {
			anchor = slug + "-" + strconv.Itoa(i)
		}
		out[anchor] = true
	}
	return out
}

// slugify is GitHub's heading anchor: lower case, link text for links,
// punctuation other than '-' and '_' dropped, spaces as '-'.
func slugify(heading string) string {
	heading = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`).ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// prose returns the document's lines with the lines of code blocks (fenced,
// or indented by four spaces after a blank line) blanked out, so line
// numbers stay.
func prose(md string) []string {
	lines := strings.Split(md, "\n")
	fence := ""
	indented := false
	for i, l := range lines {
		trimmed := strings.TrimLeft(l, " ")
		switch {
		case fence != "":
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			lines[i] = ""
		case strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~"):
			fence = trimmed[:3]
			lines[i] = ""
		case strings.HasPrefix(l, "    ") && (indented || i == 0 || strings.TrimSpace(lines[i-1]) == ""):
			indented = true
			lines[i] = ""
		case strings.TrimSpace(l) == "":
			// a blank line keeps an indented block going
		default:
			indented = false
		}
	}
	return lines
}

package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/auditfwd/auditfwd/internal/fakeslack"
)

// printer writes what the fake accepts the way a person reads a Slack
// channel: a message under a rule with its channel and time; a thread
// reply indented under a line naming its parent; an edit under a rule
// that says which message it changed, with the text it now reads.
type printer struct {
	out   io.Writer
	names map[string]string // channel ID → "#name"
	seen  map[string]string // channel + "/" + ts → "01:14:10 “first line”"
}

func newPrinter(out io.Writer, names map[string]string) *printer {
	return &printer{out: out, names: names, seen: map[string]string{}}
}

// messages prints new posts and edits, interleaved in the order the fake
// accepted them.
func (p *printer) messages(posts, edits []fakeslack.Post) {
	type item struct {
		m    fakeslack.Post
		edit bool
	}
	all := make([]item, 0, len(posts)+len(edits))
	for _, m := range posts {
		all = append(all, item{m, false})
	}
	for _, m := range edits {
		all = append(all, item{m, true})
	}
	slices.SortStableFunc(all, func(a, b item) int { return a.m.Time.Compare(b.m.Time) })
	for _, it := range all {
		if it.edit {
			p.edit(it.m)
		} else {
			p.post(it.m)
		}
	}
}

var unescape = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

func (p *printer) post(m fakeslack.Post) {
	text := unescape.Replace(m.Text)
	at := m.Time.Format("15:04:05")
	p.seen[m.Channel+"/"+m.TS] = at + " “" + firstLine(text) + "”"
	if m.ThreadTS == "" {
		fmt.Fprint(p.out, rule(p.channel(m.Channel)+" "+at)+"\n"+text+"\n\n")
		return
	}
	parent := p.seen[m.Channel+"/"+m.ThreadTS]
	if parent == "" {
		parent = "a message this fake has not shown (ts " + m.ThreadTS + ")"
	}
	head := fmt.Sprintf("    ↳ reply %s in %s, in the thread of %s", at, p.channel(m.Channel), parent)
	if m.Params.Get("reply_broadcast") == "true" {
		head += " (also sent to the channel)"
	}
	fmt.Fprint(p.out, head+"\n"+indent(text, "    │ ")+"\n\n")
}

func (p *printer) edit(m fakeslack.Post) {
	text := unescape.Replace(m.Text)
	what := p.seen[m.Channel+"/"+m.TS]
	if what == "" {
		what = "a message this fake has not shown (ts " + m.TS + ")"
	}
	at := m.Time.Format("15:04:05")
	if m.ThreadTS != "" && m.ThreadTS != m.TS {
		fmt.Fprintf(p.out, "    ✎ edit %s in %s of the reply %s\n%s\n\n", at, p.channel(m.Channel), what, indent(text, "    │ "))
		return
	}
	fmt.Fprint(p.out, rule(fmt.Sprintf("%s %s ✎ edit of %s", p.channel(m.Channel), at, what))+"\n"+text+"\n\n")
}

func (p *printer) channel(id string) string {
	if n := p.names[id]; n != "" {
		return n
	}
	return id
}

// rule is "── head ─────" filled to about 60 columns.
func rule(head string) string {
	head = "── " + head + " "
	return head + strings.Repeat("─", max(3, 60-len([]rune(head))))
}

// firstLine is the text's first line, cut to 60 characters.
func firstLine(text string) string {
	line, _, _ := strings.Cut(text, "\n")
	if r := []rune(line); len(r) > 60 {
		line = string(r[:59]) + "…"
	}
	return line
}

// indent puts prefix before every line of text (without its trailing
// spaces before an empty line).
func indent(text, prefix string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if l == "" {
			lines[i] = strings.TrimRight(prefix, " ")
		} else {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}

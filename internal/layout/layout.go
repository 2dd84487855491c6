// Package layout is what a rule's template says a message shows
// (docs/templates.md): its title, a Go text/template over the event with
// the functions default, upper, lower and trunc; and its fields, the lines
// under the title in order. It parses and checks templates and renders a
// title from an event's values as the caller hands them over (redacted); it
// knows nothing about Slack's markup, which the caller escapes the result
// for, and nothing about routing.
package layout

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"text/template"
	"text/template/parse"

	"github.com/auditfwd/auditfwd/internal/event"
)

// The names template.fields gives the default layout's own lines.
const (
	FieldUser     = "user"     // "User: Name (email)" or "API token: NAME"
	FieldStatus   = "status"   // "Status: …"
	FieldResource = "resource" // "Resource: RESOURCE (RESOURCE_TYPE)"
)

// maxTitle bounds what one title renders to; the message cuts it further.
const maxTitle = 4 << 10

// Layout is one rule's template, compiled. It is immutable but for the
// note that its failure was logged, and safe for concurrent use.
type Layout struct {
	Rule   string   // the rule (channel name) it belongs to
	Fields []string // nil: the default lines
	title  *template.Template
	paths  [][]string // the field paths the title reads, each once
	logged atomic.Bool
}

// New compiles a rule's template: title "" keeps the default heading,
// fields nil the default lines.
func New(rule, title string, fields []string) (*Layout, error) {
	l := &Layout{Rule: rule, Fields: fields}
	if title != "" {
		t, paths, err := parseTitle(title)
		if err != nil {
			return nil, err
		}
		l.title, l.paths = t, paths
	}
	return l, nil
}

// CheckTitle reports what is wrong with a title template: a syntax error, a
// function that does not exist, an empty title, or a call of another
// template (which could recurse).
func CheckTitle(title string) error {
	_, _, err := parseTitle(title)
	return err
}

// CheckField reports what is wrong with an entry of template.fields.
func CheckField(f string) error {
	switch {
	case strings.TrimSpace(f) == "":
		return errors.New("an empty field name")
	case f != strings.TrimSpace(f):
		return fmt.Errorf("field %q has leading or trailing spaces", f)
	case f == "ts" || f == "timestamp":
		return fmt.Errorf("field %q: the time line is always shown", f)
	case f == "action":
		return errors.New("field \"action\": the action is the heading (or the title)")
	case strings.HasPrefix(f, ".") || strings.HasSuffix(f, ".") || strings.Contains(f, ".."):
		return fmt.Errorf("field %q: write a path as details.reason", f)
	}
	return nil
}

func parseTitle(src string) (*template.Template, [][]string, error) {
	if strings.TrimSpace(src) == "" {
		return nil, nil, errors.New("title: empty; remove the key for the default heading")
	}
	t, err := template.New("title").Funcs(funcs).Option("missingkey=zero").Parse(src)
	if err != nil {
		return nil, nil, fmt.Errorf("title: %s", strings.TrimPrefix(err.Error(), "template: "))
	}
	if len(t.Templates()) > 1 {
		return nil, nil, errors.New("title: define and block are not supported (a title is one template)")
	}
	var paths [][]string
	var bad error
	// dot is the path . stands for: the top (nil), the field a with
	// moved it to, or unknown (inside range, or with on anything else).
	walk(t.Tree.Root, []string{}, func(n parse.Node, dot []string) {
		switch n := n.(type) {
		case *parse.TemplateNode:
			bad = fmt.Errorf("title: {{template %q}} is not supported (a title is one template)", n.Name)
		case *parse.FieldNode:
			if dot != nil {
				paths = addPath(paths, slices.Concat(dot, n.Ident))
			}
		case *parse.VariableNode:
			if len(n.Ident) > 1 && n.Ident[0] == "$" {
				paths = addPath(paths, n.Ident[1:])
			}
		case *parse.ChainNode:
			// (.a).b: the field b of .a
			if f, ok := n.Node.(*parse.FieldNode); ok && dot != nil {
				paths = addPath(paths, slices.Concat(dot, f.Ident, n.Field))
			}
		}
	})
	if bad != nil {
		return nil, nil, bad
	}
	return t, paths, nil
}

func addPath(paths [][]string, p []string) [][]string {
	for _, q := range paths {
		if strings.Join(q, ".") == strings.Join(p, ".") {
			return paths
		}
	}
	return append(paths, append([]string(nil), p...))
}

// walk calls f for n and every node under it, with the path dot stands
// for there (nil when it is not a known field).
func walk(n parse.Node, dot []string, f func(parse.Node, []string)) {
	if n == nil {
		return
	}
	f(n, dot)
	switch n := n.(type) {
	case *parse.ListNode:
		if n != nil {
			for _, c := range n.Nodes {
				walk(c, dot, f)
			}
		}
	case *parse.ActionNode:
		walk(n.Pipe, dot, f)
	case *parse.PipeNode:
		if n != nil {
			for _, d := range n.Decl {
				walk(d, dot, f)
			}
			for _, c := range n.Cmds {
				walk(c, dot, f)
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walk(a, dot, f)
		}
	case *parse.ChainNode:
		walk(n.Node, dot, f)
	case *parse.IfNode:
		walkBranch(&n.BranchNode, dot, dot, f)
	case *parse.RangeNode:
		walkBranch(&n.BranchNode, dot, nil, f)
	case *parse.WithNode:
		walkBranch(&n.BranchNode, dot, withDot(n.Pipe, dot), f)
	case *parse.TemplateNode:
		walk(n.Pipe, dot, f)
	}
}

// withDot is where {{with PIPE}} moves dot: to the field when PIPE is one.
func withDot(p *parse.PipeNode, dot []string) []string {
	if dot == nil || p == nil || len(p.Decl) > 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return nil
	}
	if fn, ok := p.Cmds[0].Args[0].(*parse.FieldNode); ok {
		return slices.Concat(dot, fn.Ident)
	}
	return nil
}

func walkBranch(b *parse.BranchNode, dot, inner []string, f func(parse.Node, []string)) {
	walk(b.Pipe, dot, f)
	if b.List != nil {
		walk(b.List, inner, f)
	}
	if b.ElseList != nil {
		walk(b.ElseList, dot, f)
	}
}

// HasTitle reports whether the layout sets the heading.
func (l *Layout) HasTitle() bool { return l != nil && l.title != nil }

// Title renders the title for ev. value gives each field's text as it may
// be shown (path is "user_email", or "details.reason" for a key inside a
// JSON object field; raw its value in the event): the template's functions
// work on what value returns, so a secret is gone before trunc could cut
// it in half. A field the event lacks is "". The result is plain text,
// for the caller to escape; an error means this event falls back to the
// default heading.
func (l *Layout) Title(ev *event.Event, value func(path, raw string) string) (string, error) {
	data := object{}
	for _, p := range l.paths {
		data.put(ev, p, value)
	}
	var b limitedBuffer
	if err := l.title.Execute(&b, data); err != nil {
		return "", fmt.Errorf("rule %s: %s", l.Rule, strings.TrimPrefix(err.Error(), "template: "))
	}
	return b.String(), nil
}

// FirstFailure reports whether this is the layout's first failure since it
// was compiled: it is logged once per rule (and again after a reload).
func (l *Layout) FirstFailure() bool { return !l.logged.Swap(true) }

// object is a level of the title's data: field names to text, or to the
// object of a key with keys under it. Printed alone, an object shows its
// own text (the JSON as the message would show it), asked for only then:
// what a title does not show is not redacted, so not counted.
type object map[string]any

// self is the key under which an object keeps its own text; no template
// field can name it.
const self = ""

func (o object) String() string {
	if f, ok := o[self].(func() string); ok {
		o[self] = f()
	}
	s, _ := o[self].(string)
	return s
}

// put sets the value at path p (and the text of every object above it).
func (o object) put(ev *event.Event, p []string, value func(path, raw string) string) {
	cur := o
	for i, name := range p {
		full := strings.Join(p[:i+1], ".")
		if i == len(p)-1 {
			if _, ok := cur[name].(object); ok { // read as an object too: it has its text
				return
			}
			cur[name] = shown(ev, full, value)
			return
		}
		sub, ok := cur[name].(object)
		if !ok {
			sub = object{self: func() string { return shown(ev, full, value) }}
			cur[name] = sub
		}
		cur = sub
	}
}

func shown(ev *event.Event, path string, value func(path, raw string) string) string {
	raw, _ := Value(ev, path)
	return value(path, raw)
}

// limitedBuffer keeps the first maxTitle bytes written to it.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxTitle - b.Len(); room < len(p) {
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

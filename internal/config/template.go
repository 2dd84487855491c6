package config

import (
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/auditfwd/auditfwd/internal/layout"
)

// Template is what a rule's messages say (docs/templates.md): Title, a Go
// text/template over the event, replaces the action in the heading; Fields,
// when not nil, are the lines shown under it, in order ("user", "status",
// "resource" or any event field such as "ip_address" or "details.reason").
type Template struct {
	Title      string   `yaml:"title"`
	Fields     []string `yaml:"fields"` // nil: the default lines
	Line       int      `yaml:"-"`      // line of the template key; 0 when built by hand
	TitleLine  int      `yaml:"-"`
	FieldLines []int    `yaml:"-"`
}

// template decodes a rule's template mapping; what it says is checked with
// the rule (checkTemplate).
func (d *decoder) template(k, v *yaml.Node, name string) *Template {
	t := &Template{Line: k.Line, TitleLine: k.Line}
	if isNull(v) || v.Kind == yaml.MappingNode && len(v.Content) == 0 {
		d.errorf(k.Line, "%s is empty; set title, fields or both, or remove it for the default layout", name)
		return nil
	}
	ok := d.mapping(v, name, map[string]field{
		"title": func(_, v *yaml.Node) {
			t.Title, _ = d.str(v, name+".title")
			t.TitleLine = v.Line
		},
		"fields": func(_, v *yaml.Node) {
			if isNull(v) {
				return
			}
			t.Fields, t.FieldLines = d.scalars(v, name+".fields", "event fields (user, status, ip_address, details.reason, …)", "field")
		},
	})
	if !ok {
		return nil
	}
	return t
}

// checkTemplate reports what is wrong with a rule's template: a title that
// does not parse or calls a function that does not exist, a field name
// that cannot be shown, a field listed twice.
func checkTemplate(errorf func(int, string, ...any), label string, t *Template) {
	if t == nil {
		return
	}
	if t.Title == "" && t.Fields == nil {
		errorf(t.Line, "%s: template sets neither title nor fields", label)
	}
	if t.Title != "" {
		if err := layout.CheckTitle(t.Title); err != nil {
			errorf(t.TitleLine, "%s: template.%v", label, err)
		}
	}
	for i, f := range t.Fields {
		line := lineOf(t.FieldLines, i)
		if err := layout.CheckField(f); err != nil {
			errorf(line, "%s: template.fields: %v", label, err)
			continue
		}
		if j := slices.Index(t.Fields, f); j < i {
			errorf(line, "%s: template.fields lists %q twice", label, f)
		}
	}
}

// String shows the template for messages.
func (t *Template) String() string {
	return fmt.Sprintf("title %q, fields %v", t.Title, t.Fields)
}

package config

import (
	"go.yaml.in/yaml/v3"

	"github.com/auditfwd/auditfwd/internal/redact"
)

// Redact is what never leaves the host (docs/redaction.md): the built-in
// secret detectors (Secrets, on by default), field path globs whose values
// are always hidden, and extra RE2 expressions.
type Redact struct {
	Secrets      bool     `yaml:"secrets"`
	Fields       []string `yaml:"fields"`
	Patterns     []string `yaml:"patterns"`
	FieldLines   []int    `yaml:"-"`
	PatternLines []int    `yaml:"-"`
}

// Options is the section as package redact takes it.
func (r Redact) Options() redact.Options {
	return redact.Options{Secrets: r.Secrets, Fields: r.Fields, Patterns: r.Patterns}
}

func (d *decoder) redact(v *yaml.Node, r *Redact) {
	if isNull(v) {
		return
	}
	d.mapping(v, "redact", map[string]field{
		"secrets": func(_, v *yaml.Node) {
			if isNull(v) {
				return
			}
			if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || v.Decode(&r.Secrets) != nil {
				d.errorf(v.Line, "redact.secrets must be true or false, not %s", describe(v))
			}
		},
		"fields": func(_, v *yaml.Node) {
			r.Fields, r.FieldLines = d.scalars(v, "redact.fields", "field path globs (command, \"details.*token*\")", "glob")
			for i, g := range r.Fields {
				if err := redact.ValidateField(g); err != nil {
					d.errorf(r.FieldLines[i], "redact.fields: %v", err)
				}
			}
		},
		"patterns": func(_, v *yaml.Node) {
			r.Patterns, r.PatternLines = d.scalars(v, "redact.patterns", "RE2 expressions", "expression")
			for i, p := range r.Patterns {
				if err := redact.ValidatePattern(p); err != nil {
					d.errorf(r.PatternLines[i], "redact.patterns: %v", err)
				}
			}
		},
	})
}

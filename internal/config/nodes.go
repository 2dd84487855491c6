package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/auditfwd/auditfwd/internal/suggest"
)

// field handles the value of one known key.
type field func(key, val *yaml.Node)

// mapping reports n's unknown and duplicate keys and calls the handler of
// each known one. where is the dotted path of n, "" for the top level.
// It reports false when n is not a mapping.
func (d *decoder) mapping(n *yaml.Node, where string, fields map[string]field) bool {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, "%s must be a mapping of keys to values, not %s", orTop(where), describe(n))
		return false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k.Line, "%s: keys must be plain strings", orTop(where))
			continue
		}
		if k.Tag == "!!merge" {
			d.errorf(k.Line, "%s: merge keys (<<) are not supported", orTop(where))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k.Line, "%s is set twice (first at line %d)", join(where, k.Value), first)
			continue
		}
		seen[k.Value] = k.Line
		h, ok := fields[k.Value]
		if !ok {
			d.unknownKey(k, where, fields)
			continue
		}
		h(k, deref(v))
	}
	return true
}

func (d *decoder) unknownKey(k *yaml.Node, where string, fields map[string]field) {
	msg := fmt.Sprintf("unknown key %q", k.Value)
	if where != "" {
		msg += " in " + where
	}
	best, bestDist := "", len(k.Value)/3+1
	for name := range fields {
		dist := suggest.Distance(k.Value, name)
		if len(k.Value) >= 3 && (strings.HasPrefix(name, k.Value) || strings.HasPrefix(k.Value, name)) {
			dist = min(dist, 1) // "password" for "password_file"
		}
		if dist < bestDist || (dist == bestDist && best != "" && name < best) {
			best, bestDist = name, dist
		}
	}
	if best != "" {
		msg += fmt.Sprintf("; did you mean %q?", best)
	} else {
		known := make([]string, 0, len(fields))
		for name := range fields {
			known = append(known, name)
		}
		slices.Sort(known)
		msg += " (known keys: " + strings.Join(known, ", ") + ")"
	}
	d.errorf(k.Line, "%s", msg)
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "this"
}

func join(where, key string) string {
	if where == "" {
		return key
	}
	return where + "." + key
}

func orTop(where string) string {
	if where == "" {
		return "the configuration"
	}
	return where
}

// str returns a scalar's text; ok is false (and an error reported) for lists
// and mappings. A null value is "".
func (d *decoder) str(n *yaml.Node, name string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n.Line, "%s must be a string, not %s", name, describe(n))
		return "", false
	}
	if isNull(n) {
		return "", true
	}
	return n.Value, true
}

// setStr stores a string value; an empty one keeps the default.
func (d *decoder) setStr(dst *string, name string) field {
	return func(_, v *yaml.Node) {
		if s, ok := d.str(v, name); ok && strings.TrimSpace(s) != "" {
			*dst = strings.TrimSpace(s)
		}
	}
}

// oneOf is setStr restricted to a few values.
func (d *decoder) oneOf(dst *string, name string, allowed ...string) field {
	return func(_, v *yaml.Node) {
		s, ok := d.str(v, name)
		s = strings.TrimSpace(s)
		if !ok || s == "" {
			return
		}
		if !slices.Contains(allowed, s) {
			d.errorf(v.Line, "%s: %q is not one of %s", name, s, strings.Join(allowed, ", "))
			return
		}
		*dst = s
	}
}

func (d *decoder) listenAddr(dst *string, name string) field {
	return func(_, v *yaml.Node) {
		s, ok := d.str(v, name)
		s = strings.TrimSpace(s)
		if !ok || s == "" {
			return
		}
		if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
			d.errorf(v.Line, "%s: %q is not a host:port address (e.g. 127.0.0.1:9464)", name, s)
			return
		}
		*dst = s
	}
}

func (d *decoder) httpURL(dst *string, name string) field {
	return func(_, v *yaml.Node) {
		s, ok := d.str(v, name)
		s = strings.TrimSpace(s)
		if !ok || s == "" {
			return
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d.errorf(v.Line, "%s: %q is not an http(s) URL", name, s)
			return
		}
		*dst = s
	}
}

// scalars decodes a list of scalars with the line of each: never nil.
// what names the list and item one element in messages.
func (d *decoder) scalars(v *yaml.Node, name, what, item string) ([]string, []int) {
	if isNull(v) {
		return []string{}, []int{}
	}
	if v.Kind != yaml.SequenceNode {
		d.errorf(v.Line, "%s must be a list of %s, not %s", name, what, describe(v))
		return []string{}, []int{}
	}
	vals := make([]string, 0, len(v.Content))
	lines := make([]int, 0, len(v.Content))
	for _, n := range v.Content {
		n = deref(n)
		if n.Kind != yaml.ScalarNode || isNull(n) {
			d.errorf(n.Line, "%s: each %s must be a string, not %s", name, item, describe(n))
			continue
		}
		vals = append(vals, n.Value)
		lines = append(lines, n.Line)
	}
	return vals, lines
}

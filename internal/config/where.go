package config

import (
	"math"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// where decodes a rule's conditions: a mapping of event fields to lists of
// globs. Unquoted numbers are compared as the gateway's numbers are, in
// their shortest decimal form (1.0 is "1"); null is "" (the field is absent).
func (d *decoder) where(k, v *yaml.Node, name string) []Condition {
	if isNull(v) || v.Kind == yaml.MappingNode && len(v.Content) == 0 {
		d.errorf(k.Line, "%s has no conditions; remove it, or add a field and its globs (status: [failed])", name)
		return nil
	}
	if v.Kind != yaml.MappingNode {
		d.errorf(v.Line, "%s must be a mapping of event fields to lists of globs (status: [failed]), not %s", name, describe(v))
		return nil
	}
	out := []Condition{}
	seen := map[string]int{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		key, val := v.Content[i], deref(v.Content[i+1])
		if key.Kind != yaml.ScalarNode || key.Tag == "!!merge" {
			d.errorf(key.Line, "%s: keys must be event field names", name)
			continue
		}
		if first, dup := seen[key.Value]; dup {
			d.errorf(key.Line, "%s.%s is set twice (first at line %d)", name, key.Value, first)
			continue
		}
		seen[key.Value] = key.Line
		c := Condition{Field: key.Value, Line: key.Line, Globs: []string{}, GlobLines: []int{}}
		ok := true
		switch {
		case isNull(val):
		case val.Kind != yaml.SequenceNode:
			d.errorf(val.Line, "%s.%s must be a list of globs, not %s; write %s: [%s]", name, key.Value, describe(val), key.Value, val.Value)
			ok = false
		default:
			for _, n := range val.Content {
				n = deref(n)
				if n.Kind != yaml.ScalarNode {
					d.errorf(n.Line, "%s.%s: each glob must be a string, not %s", name, key.Value, describe(n))
					ok = false
					continue
				}
				c.Globs = append(c.Globs, scalarText(n))
				c.GlobLines = append(c.GlobLines, n.Line)
			}
		}
		if ok { // a shape error is reported once, not again as an empty list
			out = append(out, c)
		}
	}
	return out
}

// scalarText is a glob as routing compares it: an unquoted number in its
// shortest decimal form, null as "", anything else as written.
func scalarText(n *yaml.Node) string {
	switch n.Tag {
	case "!!null":
		return ""
	case "!!int":
		var i int64
		if n.Decode(&i) == nil {
			return strconv.FormatInt(i, 10)
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
	}
	return n.Value
}

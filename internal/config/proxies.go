package config

import (
	"net/netip"

	"go.yaml.in/yaml/v3"
)

// prefixes decodes a list of CIDRs ("10.0.0.0/8", "::1/128"); a bare
// address means that one host. Anything else is an error at its line: a
// typo here would silently make every visitor share one login limit.
func (d *decoder) prefixes(dst *[]netip.Prefix, name string) field {
	return func(_, v *yaml.Node) {
		if isNull(v) {
			return
		}
		if v.Kind != yaml.SequenceNode {
			d.errorf(v.Line, "%s must be a list of CIDRs such as 127.0.0.1/32, not %s", name, describe(v))
			return
		}
		out := []netip.Prefix{}
		for _, item := range v.Content {
			item = deref(item)
			s, ok := d.str(item, name+" entry")
			if !ok {
				continue
			}
			p, err := parsePrefix(s)
			if err != nil {
				d.errorf(item.Line, "%s: %q is not a CIDR (e.g. 127.0.0.1/32 or 10.0.0.0/8) or an IP address", name, s)
				continue
			}
			out = append(out, p)
		}
		*dst = out
	}
}

func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

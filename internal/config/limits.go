package config

import (
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"
)

// Size limits (docs/configuration.md): a config beyond them is refused
// before anything else looks at it, so that `check` and a reload stay fast
// whatever the file holds.
const (
	// MaxFileBytes is the largest config file read.
	MaxFileBytes = 4 << 20
	// MaxAliasExpansion bounds how many times more YAML nodes the document
	// has with its aliases expanded than as written ("billion laughs").
	MaxAliasExpansion = 10
)

// ReadFile reads a config file of at most MaxFileBytes; a larger one gives
// an error that says so, without reading the rest.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, tooLarge(path)
	}
	return data, nil
}

func tooLarge(path string) error {
	return fmt.Errorf("%s: the file is larger than %d MiB, the limit for a configuration file", path, MaxFileBytes>>20)
}

// checkAliases refuses a document whose aliases expand it more than
// MaxAliasExpansion times, counted in nodes, without expanding it.
func (d *decoder) checkAliases(root *yaml.Node) bool {
	written := 0
	expanded := map[*yaml.Node]int{}
	limit := 0
	var count func(n *yaml.Node)
	count = func(n *yaml.Node) {
		written++
		for _, c := range n.Content {
			count(c)
		}
	}
	count(root)
	limit = MaxAliasExpansion * written
	// size is n's node count with aliases expanded, saturating just above
	// limit; each node's size is computed once.
	var size func(n *yaml.Node) int
	size = func(n *yaml.Node) int {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			return size(n.Alias)
		}
		if s, ok := expanded[n]; ok {
			return s
		}
		s := 1
		for _, c := range n.Content {
			s = min(s+size(c), limit+1)
		}
		expanded[n] = s
		return s
	}
	if total := size(root); total > limit {
		d.errorf(0, "YAML aliases expand this configuration to more than %d times its %d nodes, the limit; write the repeated parts out, or use fewer aliases", MaxAliasExpansion, written)
		return false
	}
	return true
}

package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decoder walks the YAML node tree itself, rather than letting yaml.v3 fill
// structs, so that every unknown key, duplicate key and bad value is reported
// at once, each with its line.
type decoder struct {
	file string
	errs Errors
}

func (d *decoder) errorf(line int, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) sort() {
	slices.SortStableFunc(d.errs, func(a, b *Error) int { return a.Line - b.Line })
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parse returns the document's root node, or nil for an empty document
// (nothing, comments only, or a lone null), which means "all defaults".
func (d *decoder) parse(data []byte) *yaml.Node {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			d.yamlError(err, data)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		if root := docRoot(&extra); root != nil {
			d.errorf(extra.Line, "a second YAML document (after ---) is not allowed; the configuration is one document")
		}
	} else if !errors.Is(err, io.EOF) {
		d.yamlError(err, data)
	}
	return docRoot(&doc)
}

func docRoot(doc *yaml.Node) *yaml.Node {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	return root
}

// yamlError turns a yaml.v3 syntax error into file:line form.
func (d *decoder) yamlError(err error, data []byte) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	switch {
	case strings.Contains(msg, "cannot start any token"):
		// Almost always a tab in the indentation, which YAML forbids.
		if l := tabIndentedLine(data, line, line); l > 0 {
			line = l
			msg += " (tabs are not allowed for indentation)"
		}
	case strings.Contains(msg, "tab character"):
		// yaml.v3 reports the line before the tab ("found a tab character
		// that violates indentation"): point at the tab itself.
		if l := tabIndentedLine(data, line, 0); l > 0 {
			line = l
		}
	case isStructureProblem(msg):
		bad, hint := indentHint(data, offendingLine(data, err.Error(), line))
		if bad > line && !strings.Contains(msg, "<document start>") {
			msg += fmt.Sprintf(" (in the block that starts at line %d)", line)
		}
		line, msg = bad, msg+"; "+hint
	}
	d.errorf(line, "invalid YAML: %s", msg)
}

// tabIndentedLine returns the first line from line from (1-based; 0: the
// first) up to line to (0: the end) whose indentation holds a tab, or 0.
func tabIndentedLine(data []byte, from, to int) int {
	for i, l := range strings.Split(string(data), "\n") {
		n := i + 1
		if n < from || (to > 0 && n > to) {
			continue
		}
		if indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]; strings.Contains(indent, "\t") {
			return n
		}
	}
	return 0
}

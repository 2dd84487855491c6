package main

import (
	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/rules"
)

// placeholderWarnings are config.Placeholders as `check` prints them.
func placeholderWarnings(cfg *config.Config) []rules.Warning {
	var out []rules.Warning
	for _, msg := range cfg.Placeholders() {
		out = append(out, rules.Warning{File: cfg.Path, Msg: msg})
	}
	return out
}

package config

import (
	"reflect"
	"strings"
)

// A reload applies every valid file whole (the daemon compiles the rules
// again and hands them over, whatever changed). Of the top-level keys only
// the live ones take effect then; the others keep the values the process
// started with until a restart. A key is classified by its place, never by
// a list of keys kept by hand: every key inside a live section is live,
// every other key needs a restart.
var liveKeys = [...]string{"channels", "deploy_approval_alerts", "redact"}

// IsLive reports whether the top-level key applies on reload.
func IsLive(key string) bool {
	for _, k := range liveKeys {
		if k == key {
			return true
		}
	}
	return false
}

// RestartKeysChanged returns the dotted names of the settings outside the
// live sections whose values differ between c and o, e.g.
// ["audit_log.path", "metrics.listen"]: those need a restart to apply. It is
// nil when none differ. It walks the YAML keys of Config by reflection, so a
// key added later is covered without being named here.
func (c *Config) RestartKeysChanged(o *Config) []string {
	var out []string
	restartKeys(reflect.ValueOf(*c), reflect.ValueOf(*o), "", &out)
	return out
}

// restartKeys appends the keys under prefix whose values differ between the
// structs a and b: one name per leaf, a section of the config (a struct of
// this package) is walked into.
func restartKeys(a, b reflect.Value, prefix string, out *[]string) {
	for i := range a.NumField() {
		f := a.Type().Field(i)
		name := YAMLKey(f)
		if name == "" || prefix == "" && IsLive(name) {
			continue
		}
		key := prefix + name
		fa, fb := a.Field(i), b.Field(i)
		if IsSection(f.Type) {
			restartKeys(fa, fb, key+".", out)
			continue
		}
		if !reflect.DeepEqual(fa.Interface(), fb.Interface()) {
			*out = append(*out, key)
		}
	}
}

// YAMLKey is the config key a struct field holds, "" for a field that is no
// key (unexported, or tagged `yaml:"-"`: file name, line numbers).
func YAMLKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if !f.IsExported() || name == "-" {
		return ""
	}
	return name
}

// IsSection reports whether t is a mapping of further keys in the file (a
// struct of this package, such as AuditLog), rather than one value.
func IsSection(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t.PkgPath() == reflect.TypeFor[Config]().PkgPath()
}

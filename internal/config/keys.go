package config

import (
	"reflect"
	"strings"
)

// ChangedKeys returns the dotted names of the keys whose values differ
// between c and o, e.g. ["audit_log.path", "channels"]: one name per value,
// a section (a mapping of further keys, such as audit_log) walked into, a
// list (channels) compared whole. It is nil when none differ. It walks the
// YAML keys of Config by reflection, so a key added later is covered
// without being named here; line numbers and the file's name are no keys.
func (c *Config) ChangedKeys(o *Config) []string {
	var out []string
	changedKeys(reflect.ValueOf(*c), reflect.ValueOf(*o), "", &out)
	return out
}

// changedKeys appends the keys under prefix whose values differ between
// the structs a and b.
func changedKeys(a, b reflect.Value, prefix string, out *[]string) {
	for i := range a.NumField() {
		f := a.Type().Field(i)
		name := YAMLKey(f)
		if name == "" {
			continue
		}
		key := prefix + name
		fa, fb := a.Field(i), b.Field(i)
		if IsSection(f.Type) {
			changedKeys(fa, fb, key+".", out)
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

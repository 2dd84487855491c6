package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// docs/configuration.md says it lists every key: each key the Config
// struct reads (its yaml tags) has a row of the keys table.
func TestConfigurationDocListsEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	keys := yamlKeys(reflect.TypeOf(Config{}), "")
	if len(keys) < 25 {
		t.Fatalf("found only %d keys: %v", len(keys), keys)
	}
	known := map[string]bool{}
	for _, k := range keys {
		if !strings.Contains(string(doc), "\n| `"+k+"` |") {
			t.Errorf("docs/configuration.md has no row for `%s`", k)
		}
		known[k] = true
		parts := strings.Split(k, ".")
		for i := range parts {
			p := strings.Join(parts[:i+1], ".")
			known[p] = true                               // channels[].template for channels[].template.title
			known[strings.ReplaceAll(p, "[]", "")] = true // channels for channels[].name
		}
	}
	// And no row for a key that does not exist.
	_, table, _ := strings.Cut(string(doc), "\n## Keys\n")
	table, _, _ = strings.Cut(table, "\n## ")
	for _, l := range strings.Split(table, "\n") {
		if k, ok := strings.CutPrefix(l, "| `"); ok {
			if k, _, _ = strings.Cut(k, "`"); !known[k] {
				t.Errorf("docs/configuration.md has a row for `%s`, which the config does not read", k)
			}
		}
	}
}

// yamlKeys lists the leaf keys under t as the file spells them
// ("audit_log.path", "channels[].where"): fields of structs that have
// yaml tags, lists of such structs as "[]".
func yamlKeys(t reflect.Type, prefix string) []string {
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		key := prefix + name
		ft := f.Type
		list := ""
		if ft.Kind() == reflect.Slice {
			ft, list = ft.Elem(), "[]"
		}
		if ft.Kind() == reflect.Pointer { // an optional section, channels[].template
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && hasYAMLTags(ft) {
			out = append(out, yamlKeys(ft, key+list+".")...)
			continue
		}
		out = append(out, key)
	}
	return out
}

func hasYAMLTags(t reflect.Type) bool {
	for f := range t.Fields() {
		if f.Tag.Get("yaml") != "" {
			return true
		}
	}
	return false
}

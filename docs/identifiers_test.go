package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// decls is what the repository's Go code declares, read with go/parser.
type decls struct {
	pkgs    map[string]map[string]bool // package name → its top-level names
	members map[string]map[string]bool // type name (any package) → its methods and fields
	names   map[string]bool            // every declared name, method, field and package
	inDir   map[string]map[string]bool // directory (internal/delivery) → every name declared in it
	keys    map[string]bool            // yaml and json keys of struct tags: config keys, JSON fields
}

func readDecls(t *testing.T, root string) *decls {
	t.Helper()
	d := &decls{pkgs: map[string]map[string]bool{}, members: map[string]map[string]bool{}, names: map[string]bool{},
		inDir: map[string]map[string]bool{}, keys: map[string]bool{}}
	var dir string
	set := func(m map[string]map[string]bool, k, v string) {
		if m[k] == nil {
			m[k] = map[string]bool{}
		}
		m[k][v] = true
	}
	var add func(m map[string]map[string]bool, k, v string)
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && (strings.HasPrefix(e.Name(), ".") && path != root || e.Name() == "testdata") {
			return filepath.SkipDir
		}
		if e.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		dir = filepath.ToSlash(rel)
		test := strings.HasSuffix(path, "_test.go")
		add = func(m map[string]map[string]bool, k, v string) {
			// What only tests declare is no citation's target, but the
			// tests themselves are (TestEveryConfigKeyIsLiveOrNeedsRestart).
			if test && !strings.HasPrefix(v, "Test") && !strings.HasPrefix(v, "Benchmark") && !strings.HasPrefix(v, "Fuzz") {
				return
			}
			set(m, k, v)
			set(d.inDir, dir, v)
			d.names[v] = true
		}
		pkg := strings.TrimSuffix(f.Name.Name, "_test")
		d.names[pkg] = true
		if d.pkgs[pkg] == nil {
			d.pkgs[pkg] = map[string]bool{}
		}
		fields := func(typ string, fl *ast.FieldList) {
			for _, fld := range fl.List {
				for _, n := range fld.Names {
					add(d.members, typ, n.Name)
				}
				if len(fld.Names) == 0 { // embedded: its name is a field
					if id := embeddedName(fld.Type); id != "" {
						add(d.members, typ, id)
					}
				}
				if fld.Tag != nil {
					tag, _ := strconv.Unquote(fld.Tag.Value)
					for _, k := range []string{"yaml", "json"} {
						if name, _, _ := strings.Cut(reflect.StructTag(tag).Get(k), ","); name != "" && name != "-" {
							d.keys[name] = true
						}
					}
				}
			}
		}
		for _, decl := range f.Decls {
			switch decl := decl.(type) {
			case *ast.FuncDecl:
				if decl.Recv == nil {
					add(d.pkgs, pkg, decl.Name.Name)
				} else if id := embeddedName(decl.Recv.List[0].Type); id != "" {
					add(d.members, id, decl.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range decl.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						add(d.pkgs, pkg, s.Name.Name)
						switch typ := s.Type.(type) {
						case *ast.StructType:
							fields(s.Name.Name, typ.Fields)
						case *ast.InterfaceType:
							fields(s.Name.Name, typ.Methods)
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							add(d.pkgs, pkg, n.Name)
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// embeddedName is the type name in a receiver or an embedded field: T, *T,
// T[P], pkg.T.
func embeddedName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.StarExpr:
		return embeddedName(e.X)
	case *ast.IndexExpr:
		return embeddedName(e.X)
	case *ast.IndexListExpr:
		return embeddedName(e.X)
	case *ast.SelectorExpr:
		return e.Sel.Name
	}
	return ""
}

var (
	goName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
	// fileName is a file the docs name (threads.jsonl), not Go.
	fileName = regexp.MustCompile(`\.(go|md|json|jsonl|yaml|txt|key|lock|service)$`)
	// repoPath is a file or directory of the repository.
	repoPath = regexp.MustCompile(`^(cmd|internal|bench|packaging|scripts|docs|examples|configs|systemd)/[^ *]*$`)
	// slackMethod is a Slack Web API method (chat.postMessage).
	slackMethod = regexp.MustCompile(`^(chat|conversations|auth|oauth|users|team)\.`)
)

// notGo are words the architecture quotes in lines about code that are
// neither Go nor config keys: fields of an audit line and of Slack's
// answers, system calls and programs.
var notGo = map[string]bool{"ok": true, "error": true, "ts": true, "action": true, "flock": true, "pwrite": true, "initdb": true}

// Every identifier docs/architecture.md cites in code is declared in the
// code: `pkg.Name` in that package (a top-level name: methods are cited
// as Type.Method), `Type.Member` (`Queue.Flush`, `Handler.Commit`) on a
// type of that name, and a bare name (`decide`, `cmdRun`) somewhere; a
// bare lower-case word is taken for Go only in lines that name a .go file
// or a call chain (→). Config keys (`redact.fields`), files, environment
// variables and Slack's methods are not Go. The files and directories it
// cites exist. A rename that leaves the document behind fails here.
func TestArchitectureCitesIdentifiersThatExist(t *testing.T) {
	d := readDecls(t, "..")
	if len(d.pkgs["rules"]) < 10 || len(d.members["Queue"]) < 5 {
		t.Fatalf("read too little of the code: %d names in rules, %d members of Queue", len(d.pkgs["rules"]), len(d.members["Queue"]))
	}
	b, err := os.ReadFile("architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	goFiles := map[string]bool{} // base names of the repository's Go files
	filepath.WalkDir("..", func(path string, e fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".go") {
			goFiles[e.Name()] = true
		}
		return nil
	})
	checked := 0
	for _, it := range items(prose(string(b))) {
		for _, span := range codeSpan.FindAllString(it.text, -1) {
			p := strings.Trim(span, "`")
			switch {
			case repoPath.MatchString(p):
				if _, err := os.Stat(filepath.Join("..", p)); err != nil {
					t.Errorf("architecture.md:%d: `%s`: no such file or directory", it.line, p)
				}
			case strings.HasSuffix(p, ".go") && !strings.Contains(p, "/") && !goFiles[p]:
				t.Errorf("architecture.md:%d: `%s`: no Go file of that name", it.line, p)
			}
		}
		var dirs []string // of the .go files the item cites: its bare names are theirs
		for _, span := range codeSpan.FindAllString(it.text, -1) {
			if p := strings.Trim(span, "`"); strings.HasSuffix(p, ".go") && strings.Contains(p, "/") {
				dirs = append(dirs, filepath.Dir(p))
			}
		}
		aboutCode := len(dirs) > 0 || strings.Contains(it.text, "→") || strings.Contains(it.text, ".go`")
		for _, span := range codeSpan.FindAllString(it.text, -1) {
			name := strings.TrimSuffix(strings.Trim(span, "`"), "()")
			switch {
			case !goName.MatchString(name), fileName.MatchString(name), slackMethod.MatchString(name) && d.pkgs[strings.Split(name, ".")[0]] == nil:
				continue // a path, a command line, a file, a Slack method
			case !strings.Contains(name, ".") && strings.ToLower(name) == name && !aboutCode:
				continue // a word: a command, a template function, a key
			case strings.ToUpper(name) == name:
				continue // an environment variable, SHA256SUMS
			}
			why := d.missing(name)
			if why == "" && !strings.Contains(name, ".") && len(dirs) > 0 && !notGo[name] && !d.keys[name] {
				why = "declared in none of " + strings.Join(dirs, ", ") + ", whose files the passage cites"
				for _, dir := range dirs {
					if d.inDir[dir][name] {
						why = ""
					}
				}
			}
			if why != "" {
				t.Errorf("architecture.md:%d: `%s`: %s", it.line, name, why)
			}
			checked++
		}
	}
	if checked < 120 {
		t.Errorf("only %d identifiers checked; the reading of code spans is broken", checked)
	}
	t.Logf("%d identifiers checked", checked)
}

// item is a paragraph, a list item or a table row of prose, and the line
// it starts on.
type item struct {
	text string
	line int
}

var listItem = regexp.MustCompile(`^\s*(?:[-*]|\d+\.)\s|^\|`)

func items(lines []string) []item {
	var out []item
	for n, l := range lines {
		switch {
		case strings.TrimSpace(l) == "":
			continue
		case len(out) == 0 || listItem.MatchString(l) || strings.TrimSpace(lines[n-1]) == "" || strings.HasPrefix(lines[n-1], "|"):
			out = append(out, item{l, n + 1})
		default:
			out[len(out)-1].text += "\n" + l
		}
	}
	return out
}

// missing says why name is not declared, or "".
func (d *decls) missing(name string) string {
	parts := strings.Split(name, ".")
	if len(parts) == 1 {
		if d.names[name] || d.keys[name] || notGo[name] {
			return ""
		}
		return "no such name in the code"
	}
	allKeys := true
	for _, p := range parts {
		allKeys = allKeys && d.keys[p]
	}
	if allKeys || strings.Contains(name, "_") || len(parts[0]) == 1 {
		return "" // a config key (redact.fields), a table, an action, a variable (t.TempDir)
	}
	if top, ok := d.pkgs[parts[0]]; ok { // pkg.Name[.Member]
		if !top[parts[1]] {
			return "package " + parts[0] + " declares no " + parts[1] + " (cite a method as Type.Method)"
		}
		parts = parts[1:]
	} else if d.members[parts[0]] == nil {
		return "no package or type " + parts[0]
	}
	for i := 1; i < len(parts); i++ {
		if !d.members[parts[i-1]][parts[i]] {
			return "no type " + parts[i-1] + " with a method or field " + parts[i]
		}
	}
	return ""
}

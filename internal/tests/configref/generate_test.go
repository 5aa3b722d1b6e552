package configref

import (
	"cmp"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/server"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md")

const (
	configDir = "../../config"
	docPath   = "../../../docs/configuration.md"
)

// sample sets only what validation requires and opens every optional
// section, so that the loaded configuration shows each default. Keys set
// here are not defaults and are shown without one.
const sample = `
database: {url_env: SAMPLE_DB}
upstreams:
  - {name: sample-nc, kind: new_central, admin_key_env: SAMPLE_KEY}
  - {name: sample-legacy, kind: legacy, token_env: SAMPLE_KEY, user_id: sample-user}
purposes:
  - name: sample
    upstream: {name: sample-nc, service_account_id: sample-sa}
    allow: {api_keys: [sample]}
auth:
  api_keys: [{name: sample, sha256: "0000000000000000000000000000000000000000000000000000000000000000"}]
  oidc:
    audience: sample
    issuers: [{preset: github}]
`

// docs maps "Type.Field" (and "Type" for the type itself) to the doc
// comment in internal/config's source.
func docs() (map[string]string, error) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, configDir, func(fi os.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			ast.Inspect(f, func(n ast.Node) bool {
				gd, ok := n.(*ast.GenDecl)
				if !ok || gd.Tok != token.TYPE {
					return true
				}
				for _, spec := range gd.Specs {
					ts := spec.(*ast.TypeSpec)
					doc := ts.Doc
					if doc == nil && len(gd.Specs) == 1 {
						doc = gd.Doc
					}
					out[ts.Name.Name] = doc.Text()
					st, ok := ts.Type.(*ast.StructType)
					if !ok {
						continue
					}
					var earlier []string
					for _, fld := range st.Fields.List {
						text := fld.Doc.Text() + fld.Comment.Text()
						for _, name := range fld.Names {
							out[ts.Name.Name+"."+name.Name] = cmp.Or(text, mentioning(earlier, name.Name))
						}
						if text != "" {
							earlier = append(earlier, text)
						}
					}
				}
				return false
			})
		}
	}
	return out, nil
}

// mentioning is the nearest earlier comment of the struct that names
// the field: Go groups fields under one comment ("SealKeyEnv or
// SealKeyFile hold ..."), which documents each field it names.
func mentioning(earlier []string, name string) string {
	word := regexp.MustCompile(`\b` + name + `\b`)
	for i := len(earlier) - 1; i >= 0; i-- {
		if word.MatchString(earlier[i]) {
			return earlier[i]
		}
	}
	return ""
}

// row is one key of the reference.
type row struct {
	path, kind, def, doc string
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[config.Secret]()
)

// walk lists the keys of t under path, with v the loaded sample at the
// same place (invalid where the sample has nothing there) and set the
// sample's own keys.
func walk(path string, t reflect.Type, v reflect.Value, set any, comments map[string]string, rows *[]row) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "" || name == "-" || f.Type == secretType {
			continue
		}
		key := name
		if path != "" {
			key = path + "." + name
		}
		var fv reflect.Value
		if v.IsValid() {
			fv = v.Field(i)
		}
		subSet := child(set, name)
		doc := describe(comments[t.Name()+"."+f.Name], keys(t))
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct:
			if doc == "" {
				doc = describe(comments[ft.Elem().Name()], map[string]string{ft.Elem().Name(): name})
			}
			*rows = append(*rows, row{path: key, kind: "object, optional", doc: doc})
			if fv.IsValid() && !fv.IsNil() {
				fv = fv.Elem()
			} else {
				fv = reflect.Value{}
			}
			walk(key, ft.Elem(), fv, subSet, comments, rows)
		case ft.Kind() == reflect.Struct && ft != durationType:
			if doc == "" {
				doc = describe(comments[ft.Name()], map[string]string{ft.Name(): name})
			}
			*rows = append(*rows, row{path: key, kind: "object", doc: doc})
			walk(key, ft, fv, subSet, comments, rows)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			if doc == "" {
				doc = describe(comments[ft.Elem().Name()], map[string]string{ft.Elem().Name(): name})
			}
			*rows = append(*rows, row{path: key + "[]", kind: "list of objects", doc: doc})
			var ev reflect.Value
			if fv.IsValid() && fv.Len() > 0 {
				ev = fv.Index(0)
			}
			var elemSet any
			if l, ok := subSet.([]any); ok && len(l) > 0 {
				elemSet = l[0]
			}
			walk(key+"[]", ft.Elem(), ev, elemSet, comments, rows)
			walkKinds(key, ft.Elem(), fv, subSet, comments, rows)
		default:
			def := ""
			if fv.IsValid() && subSet == nil && !fv.IsZero() {
				def = format(fv)
			}
			*rows = append(*rows, row{path: key, kind: kindOf(ft), def: def, doc: doc})
		}
	}
}

// walkKinds lists the keys of a list element's kind-specific settings:
// fields tagged refkind:"K" are written beside the element's own keys when
// its kind is K (upstreams: a new_central entry takes base_url, rotate, …).
// Each kind is walked with the sample's element of that kind, so that its
// defaults show.
func walkKinds(key string, elem reflect.Type, list reflect.Value, set any, comments map[string]string, rows *[]row) {
	sets, _ := set.([]any)
	for i := range elem.NumField() {
		f := elem.Field(i)
		kind := f.Tag.Get("refkind")
		if kind == "" || f.Type.Kind() != reflect.Pointer || f.Type.Elem().Kind() != reflect.Struct {
			continue
		}
		var ev reflect.Value
		var elemSet any
		for j := 0; list.IsValid() && j < list.Len(); j++ {
			if p := list.Index(j).Field(i); !p.IsNil() {
				ev = p.Elem()
				if j < len(sets) {
					elemSet = sets[j]
				}
				break
			}
		}
		path := key + "[kind=" + kind + "]"
		doc := describe(comments[elem.Name()+"."+f.Name], keys(elem))
		*rows = append(*rows, row{path: path, kind: "the keys of kind `" + kind + "`", doc: doc})
		walk(path, f.Type.Elem(), ev, elemSet, comments, rows)
	}
}

func child(set any, key string) any {
	if m, ok := set.(map[string]any); ok {
		return m[key]
	}
	return nil
}

func kindOf(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration"
	case t.Kind() == reflect.String:
		return "string"
	case t.Kind() == reflect.Bool:
		return "bool"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "number"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "integer"
	case t.Kind() == reflect.Slice:
		return "list of " + kindOf(t.Elem()) + "s"
	case t.Kind() == reflect.Map:
		return "map of " + kindOf(t.Elem()) + "s"
	}
	return t.String()
}

func format(v reflect.Value) string {
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	return fmt.Sprint(v.Interface())
}

// keys maps the Go names of t's fields to their keys in the file.
func keys(t reflect.Type) map[string]string {
	m := map[string]string{}
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			m[t.Field(i).Name] = name
		}
	}
	return m
}

var goName = regexp.MustCompile(`\b[A-Z][A-Za-z0-9]*\b`)

// describe turns a doc comment into one line and writes the Go names of
// fields as the keys a reader types.
func describe(doc string, names map[string]string) string {
	doc = strings.Join(strings.Fields(doc), " ")
	doc = goName.ReplaceAllStringFunc(doc, func(w string) string {
		if k, ok := names[w]; ok {
			return "`" + k + "`"
		}
		return w
	})
	return strings.ReplaceAll(doc, "|", `\|`)
}

// generate renders the reference.
func generate() (string, error) {
	comments, err := docs()
	if err != nil {
		return "", err
	}
	cfg, err := server.ParseConfig("sample", []byte(sample), config.Options{SkipSecrets: true})
	if err != nil {
		return "", fmt.Errorf("the sample configuration no longer loads: %w", err)
	}
	var set any
	if err := yaml.Unmarshal([]byte(sample), &set); err != nil {
		return "", err
	}
	var rows []row
	walk("", reflect.TypeFor[config.Config](), reflect.ValueOf(cfg).Elem(), set, comments, &rows)

	var b strings.Builder
	b.WriteString(`# Configuration reference

Every key ` + "`broker serve`" + ` and ` + "`broker migrate`" + ` read from the YAML file,
generated from the configuration types (` + "`internal/config`" + `): keys by
reflection over the structs and their tags, descriptions from the fields' doc
comments, defaults from a loaded configuration that leaves the key out. A
test (` + "`internal/tests/configref`" + `) fails when this file and the code
disagree; ` + "`make config-reference`" + ` rewrites it.

Durations are Go durations (` + "`90s`, `15m`, `1h30m`" + `) or whole days (` + "`30d`" + `). Secrets never go in the
file: ` + "`*_env`" + ` names an environment variable, ` + "`*_file`" + ` a file (relative paths
are relative to the configuration file). ` + "`broker config check FILE`" + ` prints the
configuration a file amounts to, every default filled in; ` + "`broker config init`" + `
writes a commented starting point. A default shown for an optional section
applies when the section is present.
`)
	sections := map[string][]row{}
	var order []string
	for _, r := range rows {
		top, _, _ := strings.Cut(strings.TrimSuffix(r.path, "[]"), ".")
		top = strings.TrimSuffix(top, "[]")
		if _, ok := sections[top]; !ok {
			order = append(order, top)
		}
		sections[top] = append(sections[top], r)
	}
	sort.SliceStable(order, func(i, j int) bool { return false })
	for _, s := range order {
		fmt.Fprintf(&b, "\n## `%s`\n\n| key | type | default | |\n|---|---|---|---|\n", s)
		for _, r := range sections[s] {
			def := ""
			if r.def != "" {
				def = "`" + r.def + "`"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.path, r.kind, def, r.doc)
		}
	}
	return b.String(), nil
}

func docFile() string { return filepath.Clean(docPath) }

package configref

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/config/yamlcheck"
)

// Key is one YAML key of the reference.
type Key struct {
	// Path names the key from the top of the file, with [] for an item of
	// a list: upstreams[].streams.idle_timeout.
	Path string
	// Type is the YAML shape: string, integer, duration, list of strings …
	Type string
	// Default is the value the key takes when it is left out, as Markdown:
	// the value in code, or the default its doc comment names; empty when
	// there is none.
	Default string
	// Doc is the field's doc comment, joined into paragraphs.
	Doc string
	// Example is a value the documentation's config examples give the key
	// (empty when none does), and ExamplePage the page it comes from.
	Example, ExamplePage string
	// Object is true for a key that holds other keys.
	Object bool
}

// seed is the config whose defaults the reference shows: every list and
// optional block that has defaults of its own is present once, so that
// ApplyDefaults fills it. The keys it sets itself are not defaults.
const seed = `
upstreams:
  - name: static-upstream
    static: ["127.0.0.1:50051"]
  - name: consul-upstream
    consul: {service: library}
consul:
  address: 127.0.0.1:8500
  auto_expose: {tag: refract}
`

// schemaPackages are the directories under the config package that hold
// parts of the schema (types the config embeds), documented like its own.
var schemaPackages = []string{"aggregates", "extauthz", "transformcfg", "bodyformats"}

// Keys returns every key reachable from config.Config, in declaration
// order, documented from the Go files of configDir, with examples from
// the given Markdown pages (in the order given). It fails, naming them,
// when keys have no doc comment.
func Keys(configDir string, pages []string) ([]Key, error) {
	files, err := goFiles(configDir)
	if err != nil {
		return nil, err
	}
	for _, sub := range schemaPackages {
		more, err := goFiles(filepath.Join(configDir, sub))
		if err != nil {
			return nil, err
		}
		files = append(files, more...)
	}
	docs, err := readComments(files)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Parse([]byte(seed))
	if err != nil {
		return nil, fmt.Errorf("configref: the seed config does not load: %w", err)
	}
	set, err := yamlPaths([]byte(seed))
	if err != nil {
		return nil, err
	}
	examples, err := docExamples(pages)
	if err != nil {
		return nil, err
	}
	return collect(reflect.TypeFor[config.Config](), []reflect.Value{reflect.ValueOf(*cfg)}, docs, set, examples)
}

// collect walks a struct type (with the values it has in the seed) and
// returns its keys; it fails when any has no doc comment.
func collect(root reflect.Type, values []reflect.Value, docs comments, set map[string]string, examples map[string]example) ([]Key, error) {
	// The first walk finds where each struct type occurs; the second lists
	// its keys once, under the shortest of those paths (upstreams[] rather
	// than consul.auto_expose.upstream), and the other places name it.
	first := &walker{open: map[reflect.Type]bool{}, reported: map[string]bool{}, docs: docs, home: map[reflect.Type]string{}, listHome: map[reflect.Type]bool{}}
	first.walk(root, values, "")
	w := &walker{open: map[reflect.Type]bool{}, reported: map[string]bool{}, docs: docs, set: set, examples: examples, home: first.home, listHome: first.listHome, final: true}
	w.walk(root, values, "")
	if len(w.missing) > 0 {
		return nil, fmt.Errorf("configref: fields without a doc comment (say what the key does and its default): %s", strings.Join(w.missing, ", "))
	}
	if len(w.keys) == 0 {
		return nil, errors.New("configref: no keys found")
	}
	return w.keys, nil
}

type walker struct {
	// open are the struct types being walked: a type that holds itself
	// (additional_bindings in a rule) is listed once, not followed.
	open     map[reflect.Type]bool
	docs     comments
	set      map[string]string
	examples map[string]example
	keys     []Key
	reported map[string]bool
	// home is where each struct type's keys are listed: the shortest
	// path it occurs at (the first walk finds them, the final one uses).
	home     map[reflect.Type]string
	listHome map[reflect.Type]bool
	final    bool
	missing  []string
}

var durationType = reflect.TypeFor[config.Duration]()

func (w *walker) walk(t reflect.Type, values []reflect.Value, path string) {
	if w.open[t] {
		return
	}
	w.open[t] = true
	defer delete(w.open, t)
	for i := range t.NumField() {
		f := t.Field(i)
		name, inline, ok := yamlcheck.Key(f)
		if !ok {
			continue
		}
		fvalues := fieldValues(values, i)
		if inline {
			w.walk(deref(f.Type), fvalues, path)
			continue
		}
		key := name
		if path != "" {
			key = path + "." + name
		}
		doc := w.docs[t.Name()][f.Name]
		if field := t.Name() + "." + f.Name; doc == "" && !slices.Contains(w.missing, field+" ("+key+")") && !w.reported[field] {
			w.reported[field] = true
			w.missing = append(w.missing, field+" ("+key+")")
		}
		names := w.fieldNames(t)
		k := Key{Path: key, Type: typeName(f.Type), Doc: w.prose(paragraphs(doc, f.Name, name), names)}
		ft := deref(f.Type)
		if _, seeded := w.set[key]; !seeded {
			k.Default = firstDefault(fvalues)
			if k.Default != "" {
				k.Default = "`" + k.Default + "`"
			}
		}
		if d := docDefault(doc); d != "" && !isObject(ft) && (k.Default == "" || k.Default == "`false`" && d != "false") {
			if strings.Contains(d, " ") && !strings.HasPrefix(d, "[") {
				k.Default = w.prose(d, names)
			} else if known, ok := names[d]; ok {
				k.Default = "the value of `" + known + "`"
			} else {
				k.Default = "`" + d + "`"
			}
		}
		if k.Default == "" && ft.Kind() == reflect.Bool {
			k.Default = "`false`"
		}
		if ex, ok := w.examples[key]; ok && ex.value != "[]" && ex.value != "{}" && "`"+ex.value+"`" != k.Default {
			k.Example, k.ExamplePage = ex.value, ex.page
		}
		item := ft
		if ft.Kind() == reflect.Slice {
			item = deref(ft.Elem())
		}
		if item.Kind() != reflect.Struct || item == durationType {
			w.keys = append(w.keys, k)
			continue
		}
		k.Object = true
		if !w.final {
			if home, ok := w.home[item]; !ok || depth(key) < depth(home) {
				w.home[item], w.listHome[item] = key, ft.Kind() == reflect.Slice
			}
		} else if home := w.home[item]; home != key {
			of := "[`" + home + "`](#" + anchor(home) + ")"
			if w.listHome[item] {
				of = "an item of " + of
			}
			k.Doc += "\n\nIt takes the keys of " + of + ", listed there."
			w.keys = append(w.keys, k)
			continue
		}
		w.keys = append(w.keys, k)
		if ft.Kind() == reflect.Slice {
			var items []reflect.Value
			for _, v := range fvalues {
				for j := range v.Len() {
					items = append(items, v.Index(j))
				}
			}
			w.walk(item, derefValues(items), key+"[]")
		} else {
			w.walk(item, derefValues(fvalues), key)
		}
	}
}

// isObject reports whether a field of this type holds keys of its own.
func isObject(t reflect.Type) bool {
	if t.Kind() == reflect.Slice {
		t = deref(t.Elem())
	}
	return t.Kind() == reflect.Struct && t != durationType
}

// fieldNames maps the Go names of a struct's fields to their YAML keys.
func (w *walker) fieldNames(t reflect.Type) map[string]string {
	names := map[string]string{}
	for i := range t.NumField() {
		f := t.Field(i)
		if name, inline, ok := yamlcheck.Key(f); ok && !inline {
			names[f.Name] = name
		}
	}
	return names
}

var (
	// identifierRE finds words, hyphenated ones whole (Grpc-Timeout is
	// a header, not the field Timeout).
	identifierRE = regexp.MustCompile(`[A-Za-z0-9_][A-Za-z0-9_-]*`)
	// seeTypeRE finds a comment's pointer to a Go type, "(see LimitsConfig)".
	seeTypeRE = regexp.MustCompile(` ?\(see ([A-Z]\w+)\)`)
)

// prose makes a doc comment read as YAML: the Go names of the struct's
// fields become their keys (ReadTimeout → `read_timeout`; all-caps words
// such as TLS or URL stay words), and pointers to Go types are dropped.
func (w *walker) prose(s string, names map[string]string) string {
	s = seeTypeRE.ReplaceAllStringFunc(s, func(m string) string {
		if _, ok := w.docs[seeTypeRE.FindStringSubmatch(m)[1]]; ok {
			return ""
		}
		return m
	})
	return identifierRE.ReplaceAllStringFunc(s, func(word string) string {
		if key, ok := names[word]; ok && strings.ToUpper(word) != word {
			return "`" + key + "`"
		}
		return word
	})
}

// depth counts the levels of a key path.
func depth(path string) int { return strings.Count(path, ".") + strings.Count(path, "[]") }

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// fieldValues is field i of every (struct) value.
func fieldValues(values []reflect.Value, i int) []reflect.Value {
	var out []reflect.Value
	for _, v := range values {
		out = append(out, v.Field(i))
	}
	return out
}

// derefValues follows pointers and drops nil ones.
func derefValues(values []reflect.Value) []reflect.Value {
	var out []reflect.Value
	for _, v := range values {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				break
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Pointer {
			out = append(out, v)
		}
	}
	return out
}

// typeName is a type as the YAML writer sees it.
func typeName(t reflect.Type) string {
	t = deref(t)
	switch {
	case t == durationType:
		return "duration"
	case t.Kind() == reflect.Bool:
		return "bool"
	case t.Kind() == reflect.String:
		return "string"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "integer"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "number"
	case t.Kind() == reflect.Interface:
		return "any YAML value"
	case t.Kind() == reflect.Struct:
		return "object"
	case t.Kind() == reflect.Slice:
		if deref(t.Elem()).Kind() == reflect.Struct {
			return "list of objects"
		}
		return "list of " + plural(typeName(t.Elem()))
	case t.Kind() == reflect.Map:
		return "map of " + typeName(t.Key()) + " to " + typeName(t.Elem())
	}
	return t.String()
}

func plural(s string) string {
	switch s {
	case "any YAML value":
		return "YAML values"
	case "list of strings":
		return "lists of strings"
	}
	return s + "s"
}

// firstDefault renders the first value the seed gave the key that is
// not a zero value, as YAML; "" when there is none.
func firstDefault(values []reflect.Value) string {
	for _, v := range derefValues(values) {
		if s := render(v); s != "" {
			return s
		}
	}
	return ""
}

func render(v reflect.Value) string {
	if v.IsZero() && v.Kind() != reflect.Bool {
		return ""
	}
	if v.Type() == durationType {
		return formatDuration(time.Duration(v.Int()))
	}
	switch v.Kind() {
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.String:
		return v.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.Slice:
		var items []string
		for i := range v.Len() {
			s := render(v.Index(i))
			if s == "" {
				return ""
			}
			items = append(items, s)
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	return ""
}

// formatDuration writes 5m rather than 5m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// defaultPhrases find the default a doc comment names: "Default 30s.",
// "default: none", "drop (the default)", "round_robin (default)".
var defaultPhrases = []*regexp.Regexp{
	regexp.MustCompile(`(?:^|[.;] )[Dd]efault(?:s to|:| is)? ([^.;:(]+?)(?:[.;:]\s|[.;]?$|\s\()`),
	regexp.MustCompile(`\b[Dd]efault (\S+?)[.;,)]`),
	regexp.MustCompile("[`\"]?([\\w./:-]+)[`\"]? \\((?:the )?default\\)"),
}

// docDefault returns the default a doc comment names, or "".
func docDefault(doc string) string {
	doc = strings.Join(strings.Fields(doc), " ")
	for _, re := range defaultPhrases {
		if m := re.FindStringSubmatch(doc); m != nil {
			return strings.TrimSpace(m[1])
		}
	}
	return ""
}

// paragraphs joins a doc comment's lines into paragraphs and names the
// key instead of the Go field it starts with ("Listen is …" → "`listen`
// is …").
func paragraphs(doc, field, key string) string {
	var out []string
	for _, p := range strings.Split(doc, "\n\n") {
		out = append(out, strings.Join(strings.Fields(p), " "))
	}
	s := strings.Join(out, "\n\n")
	if rest, ok := strings.CutPrefix(s, field+" "); ok {
		s = "`" + key + "` " + rest
	}
	return s
}

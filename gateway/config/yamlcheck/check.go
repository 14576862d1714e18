package yamlcheck

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// LineError is one problem of a config file, at a line and key path:
// "line 7: upstreams[0].timeout: ...". It unwraps to the Validate error it
// locates, when it came from Validate.
type LineError struct {
	Line int
	Msg  string // "key.path: what is wrong"
	err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

func (e *LineError) Unwrap() error { return e.err }

// Schema checks a YAML node tree against the Go type it decodes into, the
// way a person reads it: every unknown key, wrong type and bad duration,
// each with its line and key path, in words rather than Go type names. It
// records the line of every key path it meets, and prunes what it refuses
// from the tree, so that the rest still decodes and validates.
type Schema struct {
	errs  []*LineError
	lines map[string]int  // key path → line of its key
	bad   map[string]bool // key paths refused here
	// holders are the keys holding a value refused for its type or
	// form: what Validate says of them follows from the refusal.
	holders map[string]bool
}

// New returns an empty Schema, ready to Check one tree.
func New() *Schema {
	return &Schema{lines: map[string]int{}, bad: map[string]bool{}, holders: map[string]bool{}}
}

// fail reports a value refused for its type or form; the caller drops it.
func (s *Schema) fail(n *yaml.Node, path, format string, args ...any) bool {
	s.unknown(n, path, format, args...)
	s.holders[parentKey(path)] = true
	return false
}

// unknown reports a key that has no place here; the caller drops it.
func (s *Schema) unknown(n *yaml.Node, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	s.errs = append(s.errs, &LineError{Line: n.Line, Msg: msg})
	s.bad[path] = true
}

var (
	durationType  = reflect.TypeFor[Duration]()
	interfaceType = reflect.TypeFor[any]()
)

// Check reports whether the document root n fits t, pruning what does not
// fit from the tree (so that the rest still decodes) and recording why.
func (s *Schema) Check(n *yaml.Node, t reflect.Type) bool { return s.check(n, t, "") }

// check reports whether n fits t; a node that does not is reported under
// path and should be dropped by the caller.
func (s *Schema) check(n *yaml.Node, t reflect.Type, path string) bool {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return true // null leaves the default
	}
	if t == interfaceType {
		return true
	}
	if t.Kind() == reflect.Pointer {
		return s.check(n, t.Elem(), path)
	}
	if t == durationType {
		if n.Kind != yaml.ScalarNode {
			return s.fail(n, path, "must be a duration (e.g. 500ms, 10s, 1m), not %s", describe(n))
		}
		d, err := time.ParseDuration(n.Value)
		if err != nil {
			return s.fail(n, path, "%q is not a duration (e.g. 500ms, 10s, 1m)", n.Value)
		}
		if d < 0 {
			return s.fail(n, path, "%q is negative: a duration must be positive", n.Value)
		}
		return true
	}
	switch t.Kind() {
	case reflect.Struct:
		return s.checkStruct(n, t, path)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return s.fail(n, path, "must be a map of keys, not %s", describe(n))
		}
		seen := map[string]int{}
		kept := n.Content[:0:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kp := path + "." + k.Value
			s.lines[kp] = k.Line
			if first, dup := seen[k.Value]; dup {
				s.unknown(k, kp, "set twice (first on line %d)", first)
				continue
			}
			seen[k.Value] = k.Line
			if s.check(v, t.Elem(), kp) {
				kept = append(kept, k, v)
			}
		}
		n.Content = kept
		return true
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return s.fail(n, path, "must be a list, not %s", describe(n))
		}
		for i, item := range n.Content {
			ip := fmt.Sprintf("%s[%d]", path, i)
			s.lines[ip] = item.Line
			if !s.check(item, t.Elem(), ip) {
				n.Content[i] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: item.Line, Column: item.Column}
			}
		}
		return true
	}
	if n.Kind != yaml.ScalarNode {
		return s.fail(n, path, "must be a single value, not %s", describe(n))
	}
	switch t.Kind() {
	case reflect.Bool:
		var b bool
		if n.Decode(&b) != nil {
			return s.fail(n, path, "%q is not true or false", n.Value)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v := reflect.New(t)
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil && n.Tag == "!!float" && f != math.Trunc(f) {
			return s.fail(n, path, "%s is not a whole number", n.Value) // yaml would truncate it
		}
		if n.Decode(v.Interface()) != nil {
			f, err := strconv.ParseFloat(n.Value, 64)
			switch {
			case err != nil || n.Tag == "!!str":
				return s.fail(n, path, "%q is not a number", n.Value)
			case f != math.Trunc(f):
				return s.fail(n, path, "%s is not a whole number", n.Value)
			case f < 0:
				return s.fail(n, path, "%s must not be negative", n.Value)
			default:
				return s.fail(n, path, "%s is too large", n.Value)
			}
		}
	case reflect.Float32, reflect.Float64:
		v := reflect.New(t)
		if n.Decode(v.Interface()) != nil {
			return s.fail(n, path, "%q is not a number", n.Value)
		}
	}
	return true // strings take any scalar
}

// checkStruct checks a mapping against a struct's yaml keys (inline
// structs included); unknown keys and refused values are pruned.
func (s *Schema) checkStruct(n *yaml.Node, t reflect.Type, path string) bool {
	if n.Kind != yaml.MappingNode {
		if path == "" {
			return s.fail(n, path, "the config must be a map of keys, not %s", describe(n))
		}
		return s.fail(n, path, "must be a map of keys, not %s", describe(n))
	}
	fields := map[string]reflect.Type{}
	yamlKeys(t, fields)
	seen := map[string]int{}
	kept := n.Content[:0:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" { // <<: *defaults
			if s.checkMerge(v, t, path) {
				kept = append(kept, k, v)
			}
			continue
		}
		kp := k.Value
		if path != "" {
			kp = path + "." + k.Value
		}
		s.lines[kp] = k.Line
		ft, ok := fields[k.Value]
		if !ok {
			if near := closest(k.Value, fields); near != "" {
				s.unknown(k, kp, "unknown key; did you mean %s?", near)
			} else {
				s.unknown(k, kp, "unknown key")
			}
			continue
		}
		if first, dup := seen[k.Value]; dup {
			s.unknown(k, kp, "set twice (first on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		if s.check(v, ft, kp) {
			kept = append(kept, k, v)
		}
	}
	n.Content = kept
	return true
}

// checkMerge checks the value of a merge key: a mapping or a list of them.
func (s *Schema) checkMerge(v *yaml.Node, t reflect.Type, path string) bool {
	for v.Kind == yaml.AliasNode {
		v = v.Alias
	}
	if v.Kind == yaml.SequenceNode {
		for _, m := range v.Content {
			if !s.checkMerge(m, t, path) {
				return false
			}
		}
		return true
	}
	return s.checkStruct(v, t, path)
}

// yamlKeys collects the yaml keys of struct t, inline structs included.
func yamlKeys(t reflect.Type, into map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, inline, ok := Key(f)
		switch {
		case !ok:
		case inline:
			yamlKeys(f.Type, into)
		default:
			into[name] = f.Type
		}
	}
}

// Key is the YAML key of a struct field as go.yaml.in/yaml/v3 reads it:
// the tag's name, else the field name in lower case; inline when the tag
// says so (its keys are the embedded struct's). ok is false for a field
// YAML never reads (unexported, or tagged "-").
func Key(f reflect.StructField) (name string, inline, ok bool) {
	if !f.IsExported() {
		return "", false, false
	}
	name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return "", false, false
	}
	if strings.Contains(opts, "inline") {
		return "", true, true
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, false, true
}

// describe names a node's kind for a person: a list, a map, or its value.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a map"
	}
	return strconv.Quote(n.Value)
}

// closest is the known key nearest to key, when one is near enough to be
// a typo of it.
func closest[V any](key string, known map[string]V) string {
	best, bestD := "", math.MaxInt
	for k := range known {
		d := levenshtein(key, k)
		if d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	if bestD <= max(2, len(key)/3) && bestD < len(key) {
		return best
	}
	return ""
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// validateKey is the key path a Validate error names: "config: KEY: ...".
var validateKey = regexp.MustCompile(`^config: ([^ :]+): `)

// Locate gives each of Validate's errors the line of its key (or of the
// nearest enclosing key in the file), drops those about values check
// already refused, and returns every error in line order, those without a
// line last.
func (s *Schema) Locate(verr error) error {
	out := s.Errors()
	for _, e := range unjoin(verr) {
		m := validateKey.FindStringSubmatch(e.Error())
		if m == nil {
			out = append(out, e)
			continue
		}
		key := m[1]
		if s.refused(key) || s.holders[key] {
			continue
		}
		if line := s.lineOf(key); line > 0 {
			out = append(out, &LineError{Line: line, Msg: strings.TrimPrefix(e.Error(), "config: "), err: e})
			continue
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return lineOf(out[i]) < lineOf(out[j]) })
	return errors.Join(out...)
}

// Errors are Check's errors alone, in the order met.
func (s *Schema) Errors() []error {
	out := make([]error, len(s.errs))
	for i, e := range s.errs {
		out[i] = e
	}
	return out
}

func lineOf(err error) int {
	if le, ok := err.(*LineError); ok {
		return le.Line
	}
	return math.MaxInt
}

// refused reports whether key, or a key above it, was refused by check
// (its value was dropped, so what Validate says of it is moot).
func (s *Schema) refused(key string) bool {
	for k := key; k != ""; k = parentKey(k) {
		if s.bad[k] {
			return true
		}
	}
	return false
}

// lineOf is the line of key, or of its nearest enclosing key; 0 when none
// is in the file.
func (s *Schema) lineOf(key string) int {
	for k := key; k != ""; k = parentKey(k) {
		if l, ok := s.lines[k]; ok {
			return l
		}
	}
	return 0
}

// parentKey is the key path one level up: "a.b[2]" → "a.b" → "a" → "".
func parentKey(k string) string {
	i := strings.LastIndexAny(k, ".[")
	if i < 0 {
		return ""
	}
	return k[:i]
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

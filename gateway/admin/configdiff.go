package admin

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Change is one difference between two configs, keyed like the YAML:
// "upstreams[library].timeout" (a list of named items is keyed by name,
// any other list by index).
type Change struct {
	Path string `json:"path"`
	Op   string `json:"op"` // added, removed or changed
	From any    `json:"from,omitempty"`
	To   any    `json:"to,omitempty"`
}

// Diff lists what changes from a to b, two effective configs (see
// EffectiveConfig), in key order. Secrets are compared as shown,
// redacted: a change of a secret's value alone is not listed.
func Diff(a, b map[string]any) []Change {
	out := []Change{}
	diffValue("", a, b, &out)
	return out
}

func diffValue(path string, a, b any, out *[]Change) {
	switch {
	case a == nil && b == nil:
		return
	case a == nil:
		*out = append(*out, Change{Path: path, Op: "added", To: b})
		return
	case b == nil:
		*out = append(*out, Change{Path: path, Op: "removed", From: a})
		return
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for _, k := range sortedKeys(keys) {
			diffValue(join(path, k), am[k], bm[k], out)
		}
		return
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok {
		if an, bn, ok := byName(al), byName(bl), true; an != nil && bn != nil && ok {
			keys := map[string]bool{}
			for k := range an {
				keys[k] = true
			}
			for k := range bn {
				keys[k] = true
			}
			for _, k := range sortedKeys(keys) {
				diffValue(fmt.Sprintf("%s[%s]", path, k), an[k], bn[k], out)
			}
			return
		}
		if len(al) == len(bl) {
			for i := range al {
				diffValue(fmt.Sprintf("%s[%d]", path, i), al[i], bl[i], out)
			}
			return
		}
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, Change{Path: path, Op: "changed", From: a, To: b})
	}
}

// byName indexes a list whose items are all maps with a distinct string
// name; nil for any other list.
func byName(l []any) map[string]any {
	if len(l) == 0 {
		return nil
	}
	m := make(map[string]any, len(l))
	for _, it := range l {
		im, ok := it.(map[string]any)
		if !ok {
			return nil
		}
		name, ok := im["name"].(string)
		if !ok || name == "" || m[name] != nil {
			return nil
		}
		m[name] = it
	}
	return m
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// summarize says in one line what a diff changes: the first few paths.
func summarize(diff []Change) string {
	if len(diff) == 0 {
		return "no change"
	}
	parts := make([]string, 0, 3)
	for i, c := range diff {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(diff)-3))
			break
		}
		parts = append(parts, c.Path+" "+c.Op)
	}
	return strings.Join(parts, ", ")
}

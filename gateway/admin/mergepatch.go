package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"go.yaml.in/yaml/v3"
)

// maxPatchDepth bounds a merge patch's nesting: the config is never
// deeper, and a hostile patch could be.
const maxPatchDepth = 32

// MergePatch applies a JSON merge patch (RFC 7396) to the YAML document
// src and returns the new YAML. It edits the document's node tree, so
// the comments and key order of every key the patch does not touch are
// kept. One extension: an object patching a list of named items (such as
// upstreams) patches the items by name — {"upstreams":{"library":
// {"timeout":"5s"}}} — where null removes the item and an unknown name
// adds one; RFC 7396 would replace the whole list.
func MergePatch(src, patch []byte) ([]byte, error) {
	var p any
	dec := json.NewDecoder(bytes.NewReader(patch))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("merge patch: not valid JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("merge patch: more than one JSON value")
	}
	if _, ok := p.(map[string]any); !ok {
		return nil, errors.New("merge patch: must be a JSON object of the keys to change")
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("merge patch: the running config is not valid YAML: %w", err)
	}
	if len(doc.Content) == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	root, err := patchNode(doc.Content[0], p, 0)
	if err != nil {
		return nil, err
	}
	doc.Content[0] = root
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("merge patch: %w", err)
	}
	return bytes.TrimLeft(out.Bytes(), "\n"), nil
}

func patchNode(n *yaml.Node, p any, depth int) (*yaml.Node, error) {
	if depth > maxPatchDepth {
		return nil, fmt.Errorf("merge patch: nested deeper than %d", maxPatchDepth)
	}
	pm, ok := p.(map[string]any)
	if !ok {
		return valueNode(p)
	}
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.SequenceNode && namedItems(n) {
		return patchNamed(n, pm, depth)
	}
	if n.Kind != yaml.MappingNode {
		n = &yaml.Node{Kind: yaml.MappingNode}
	}
	for _, k := range sortedAnyKeys(pm) {
		v := pm[k]
		i := mappingIndex(n, k)
		switch {
		case v == nil && i >= 0:
			keepComment(n.Content, i, 2)
			n.Content = append(n.Content[:i], n.Content[i+2:]...)
		case v == nil:
		case i >= 0:
			nv, err := patchNode(n.Content[i+1], v, depth+1)
			if err != nil {
				return nil, err
			}
			n.Content[i+1] = nv
		default:
			nv, err := patchNode(&yaml.Node{Kind: yaml.MappingNode}, v, depth+1)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, nv)
		}
	}
	return n, nil
}

// patchNamed patches a list of named items by name.
func patchNamed(n *yaml.Node, pm map[string]any, depth int) (*yaml.Node, error) {
	for _, name := range sortedAnyKeys(pm) {
		v := pm[name]
		idx := -1
		for i, it := range n.Content {
			if j := mappingIndex(it, "name"); j >= 0 && it.Content[j+1].Value == name {
				idx = i
			}
		}
		switch {
		case v == nil && idx >= 0:
			keepComment(n.Content, idx, 1)
			n.Content = append(n.Content[:idx], n.Content[idx+1:]...)
		case v == nil:
		case idx >= 0:
			nv, err := patchNode(n.Content[idx], v, depth+1)
			if err != nil {
				return nil, err
			}
			n.Content[idx] = nv
		default:
			item := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
				{Kind: yaml.ScalarNode, Tag: "!!str", Value: "name"}, {Kind: yaml.ScalarNode, Tag: "!!str", Value: name}}}
			nv, err := patchNode(item, v, depth+1)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, nv)
		}
	}
	return n, nil
}

// keepComment hands the comment above the entry at i (width nodes: a
// key and its value, or an item) to the entry after it, so that removing
// a key does not remove the comment that heads its section.
func keepComment(content []*yaml.Node, i, width int) {
	head := content[i].HeadComment
	if head == "" || i+width >= len(content) {
		return
	}
	next := content[i+width]
	if next.HeadComment != "" {
		head += "\n" + next.HeadComment
	}
	next.HeadComment = head
}

// namedItems reports whether every item of the list is a map with a name.
func namedItems(n *yaml.Node) bool {
	for _, it := range n.Content {
		if j := mappingIndex(it, "name"); j < 0 {
			return false
		}
	}
	return len(n.Content) > 0
}

func mappingIndex(n *yaml.Node, key string) int {
	if n.Kind != yaml.MappingNode {
		return -1
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// valueNode is v (decoded JSON) as a YAML node in block style; whole
// numbers stay integers.
func valueNode(v any) (*yaml.Node, error) {
	var n yaml.Node
	if err := n.Encode(intsOf(v)); err != nil {
		return nil, fmt.Errorf("merge patch: %w", err)
	}
	return &n, nil
}

func intsOf(v any) any {
	switch t := v.(type) {
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int64(t)
		}
	case []any:
		for i := range t {
			t[i] = intsOf(t[i])
		}
	case map[string]any:
		for k := range t {
			t[k] = intsOf(t[k])
		}
	}
	return v
}

func sortedAnyKeys(m map[string]any) []string {
	keys := map[string]bool{}
	for k := range m {
		keys[k] = true
	}
	return sortedKeys(keys)
}

// jsonToYAML turns a JSON config into block-style YAML, keys in the
// order given.
func jsonToYAML(b []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	blockStyle(&doc)
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func blockStyle(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = 0
	}
	if n.Kind == yaml.ScalarNode && n.Style == yaml.DoubleQuotedStyle && n.Tag == "!!str" {
		n.Style = 0 // quoted by JSON, not by meaning: the encoder quotes what needs it
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

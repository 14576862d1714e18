package configref

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// example is a value a documentation page's config example gives a key.
type example struct{ value, page string }

// maxExample bounds an example's length: a longer value (a whole block)
// says less than the page it comes from.
const maxExample = 72

// configBlockRE matches the config examples of a Markdown page: ```yaml
// fences and the files shell walkthroughs write with a heredoc.
var configBlockRE = regexp.MustCompile("(?s)```yaml\n(.*?)```|<<'YAML'\n(.*?\n)YAML\n")

// docExamples returns, for every key path, the first short value the
// pages' config examples give it (pages in the order given).
func docExamples(pages []string) (map[string]example, error) {
	out := map[string]example{}
	for _, page := range pages {
		data, err := os.ReadFile(page)
		if err != nil {
			return nil, fmt.Errorf("configref: %w", err)
		}
		for _, m := range configBlockRE.FindAllStringSubmatch(string(data), -1) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(m[1]+m[2]), &doc); err != nil || len(doc.Content) == 0 {
				continue // a fragment; the docs' own test says which blocks must load
			}
			walkNode(doc.Content[0], "", func(path string, n *yaml.Node) {
				if _, ok := out[path]; ok {
					return
				}
				if v := flow(n); v != "" && len(v) <= maxExample {
					out[path] = example{value: v, page: filepath.Base(page)}
				}
			})
		}
	}
	return out, nil
}

// yamlPaths returns the key paths a YAML document sets.
func yamlPaths(data []byte) (map[string]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("configref: %w", err)
	}
	out := map[string]string{}
	walkNode(doc.Content[0], "", func(path string, n *yaml.Node) { out[path] = flow(n) })
	return out, nil
}

// walkNode calls fn for every key of a mapping, depth first, with its
// path (items of a sequence add []).
func walkNode(n *yaml.Node, path string, fn func(string, *yaml.Node)) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if path != "" {
				key = path + "." + key
			}
			fn(key, n.Content[i+1])
			walkNode(n.Content[i+1], key, fn)
		}
	case yaml.SequenceNode:
		for _, item := range n.Content {
			walkNode(item, path+"[]", fn)
		}
	}
}

// flow renders a node as one line of YAML, comments dropped.
func flow(n *yaml.Node) string {
	c := copyFlow(n)
	data, err := yaml.Marshal(c)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

func copyFlow(n *yaml.Node) *yaml.Node {
	c := *n
	c.HeadComment, c.LineComment, c.FootComment = "", "", ""
	if c.Kind == yaml.MappingNode || c.Kind == yaml.SequenceNode {
		c.Style = yaml.FlowStyle
	}
	c.Content = nil
	for _, sub := range n.Content {
		c.Content = append(c.Content, copyFlow(sub))
	}
	return &c
}

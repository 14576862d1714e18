package admin

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// secretKeys are the keys of a secret's map (value, env, file or sha256,
// with an admin token's name and role): of those, value and sha256 hold
// the secret.
var secretKeys = map[string]bool{"value": true, "env": true, "file": true, "sha256": true, "name": true, "role": true}

// RedactYAML is the config source text src with every secret replaced
// by "[redacted]", as EffectiveConfig does, keeping its comments and
// layout: a secret's value and sha256, keys named like a token, password
// or secret, tracing's export headers, and URL credentials and queries.
// A PUT that sends the placeholders back keeps the running secrets (see
// restoreRedacted).
func RedactYAML(src []byte) (string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return "", fmt.Errorf("admin: redact: %w", err)
	}
	redactNode(&doc, nil)
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return "", fmt.Errorf("admin: redact: %w", err)
	}
	return out.String(), nil
}

func redactNode(n *yaml.Node, path []string) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for i, c := range n.Content {
			redactNode(c, append(path, strconv.Itoa(i)))
		}
	case yaml.MappingNode:
		secretMap := len(n.Content) > 0
		for i := 0; i+1 < len(n.Content); i += 2 {
			secretMap = secretMap && secretKeys[n.Content[i].Value]
		}
		tracingHeaders := len(path) >= 2 && path[len(path)-1] == "headers" && path[len(path)-2] == "tracing"
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			if v.Kind == yaml.ScalarNode && ((secretMap && (k == "value" || k == "sha256")) || tracingHeaders) && v.Value != "" {
				setRedacted(v, redacted)
				continue
			}
			if v.Kind == yaml.ScalarNode {
				if s, ok := redactString(k, v.Value); ok {
					setRedacted(v, s)
				}
				continue
			}
			redactNode(v, append(path, k))
		}
	}
}

// redactedEscaped is the placeholder as a URL's user info shows it.
const redactedEscaped = "%5Bredacted%5D"

func setRedacted(n *yaml.Node, s string) {
	n.Value, n.Tag, n.Style = s, "!!str", yaml.DoubleQuotedStyle
}

// restoreRedacted puts the running config's secrets back where next
// (a config sent to the API, typically edited from a GET) holds the
// "[redacted]" placeholder at the same key path; it returns the key
// paths of placeholders it could not fill (the secret's place moved).
func restoreRedacted(next, running []byte) ([]byte, []string, error) {
	if !bytes.Contains(next, []byte(redacted)) && !bytes.Contains(next, []byte(redactedEscaped)) {
		return next, nil, nil
	}
	var doc, run yaml.Node
	if err := yaml.Unmarshal(next, &doc); err != nil {
		return next, nil, nil // validation says what is wrong
	}
	_ = yaml.Unmarshal(running, &run)
	var missing []string
	var walk func(n *yaml.Node, path []string)
	walk = func(n *yaml.Node, path []string) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, append(path, strconv.Itoa(i)))
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], append(path, n.Content[i].Value))
			}
		case yaml.ScalarNode:
			if !strings.Contains(n.Value, redacted) && !strings.Contains(n.Value, redactedEscaped) {
				return
			}
			if old := nodeAt(&run, path); old != nil && old.Kind == yaml.ScalarNode {
				n.Value, n.Tag, n.Style = old.Value, old.Tag, old.Style
				return
			}
			missing = append(missing, strings.Join(path[1:], "."))
		}
	}
	walk(&doc, nil)
	if len(missing) > 0 {
		return nil, missing, nil
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, nil, err
	}
	return out.Bytes(), nil, nil
}

// nodeAt is the node at path (keys and list indexes) in the tree n.
func nodeAt(n *yaml.Node, path []string) *yaml.Node {
	for _, p := range path {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			i, err := strconv.Atoi(p)
			if err != nil || i >= len(n.Content) {
				return nil
			}
			n = n.Content[i]
		case yaml.MappingNode:
			j := mappingIndex(n, p)
			if j < 0 {
				return nil
			}
			n = n.Content[j+1]
		default:
			return nil
		}
	}
	return n
}

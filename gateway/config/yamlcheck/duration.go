package yamlcheck

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as "1.5s", "300ms", "2m"; never
// negative.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string, refusing negative ones.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 500ms, 10s, 1m)", n.Line, n.Value)
	}
	if v < 0 {
		return fmt.Errorf("line %d: %q is negative: a duration must be positive", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

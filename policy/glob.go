package policy

import (
	"fmt"
	"path"
)

// Globs is a list of method-name patterns ("library.v1.LibraryService.*",
// "*.Admin*"): '*' matches any run of characters, dots included; '?' one
// character; [...] a class, as in path.Match. Immutable.
type Globs []string

// NewGlobs checks every pattern's syntax, naming the bad one.
func NewGlobs(patterns []string) (Globs, error) {
	for _, p := range patterns {
		if p == "" {
			return nil, fmt.Errorf("policy: an empty pattern matches nothing; remove it")
		}
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("policy: pattern %q: %v", p, err)
		}
	}
	return Globs(patterns), nil
}

// Match reports the first pattern that matches name. Names with '/' never
// match (method full names have none). Not for the request path: the
// gateway evaluates globs when it compiles routes.
func (g Globs) Match(name string) (string, bool) {
	for _, p := range g {
		if ok, _ := path.Match(p, name); ok {
			return p, true
		}
	}
	return "", false
}

// Package configref writes the configuration reference (docs/config.md)
// from the config types themselves: every YAML key reachable from
// config.Config with its type, its default, the doc comment of its field
// and an example taken from the documentation's own config examples. It
// refuses a key without a doc comment, so a key cannot be added without
// saying what it does, and its test fails when the committed page and
// the types disagree. It owns the rendering of the reference, not the
// schema (gateway/config) nor the prose pages around it.
//
// Regenerate the page after changing a config type or a docs example:
//
//	go generate ./gateway/config/configref
package configref

//go:generate go test -count=1 -run TestReferenceIsCurrent -update .

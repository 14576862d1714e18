// Package yamlcheck checks a YAML node tree against the Go type it is to
// decode into, the way a person reads a config file: every unknown key
// (with the nearest known one as a suggestion), wrong type and bad duration
// at once, each with its line and key path, pruning what it refuses so the
// rest still decodes; then it gives the errors of a later validation the
// lines of the keys they name. It knows YAML and Go types, not what a
// config means.
package yamlcheck

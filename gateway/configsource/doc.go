// Package configsource owns where a config comes from and when it
// changes: a file (watched through its directory, so that editors' renames
// and Kubernetes ConfigMap swaps are followed), a key in Consul KV shared
// by a fleet (followed with blocking queries), or bytes held in memory. It
// hands out bytes with their origin and a version; it does not know what
// the config means: parsing, defaults and validation belong to its users.
package configsource

// Package adminclient is a client of refract's admin API for scripts and
// the refract command: read, validate and change the config of a running
// gateway, its history and rollback, and its gray releases. It speaks
// plain HTTP+JSON and imports nothing of the gateway, so a program can
// use it without the engine; it does not know what a config means.
package adminclient

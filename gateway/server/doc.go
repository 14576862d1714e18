// Package server is the refract process around the engine: it reads the
// config from a configsource.Source through the one validation every read
// goes through, serves each config with its admin API (a generation)
// through a Gateway that a reload updates in place when it can (only what
// changed is rebuilt) or replaces, owns the metrics and the policy state
// for the process's lifetime, owns the listeners (public with TLS, admin,
// products' own) and the http.Servers on them with their
// connection-level limits, swaps generations on reload without dropping a
// request, and drains on stop. It serves no request itself: every request
// is handed to the current generation's Gateway or admin handler. Signals
// belong to the command; a Server only offers Reload, EndDrain and a
// context.
package server

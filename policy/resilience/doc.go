// Package resilience owns a route's call plan (Plan: the deadline and the
// parts that act on the upstream call rather than on the HTTP request, and
// Invoke, which runs one call's tries through them): Breaker (a circuit
// breaker over sony/gobreaker that counts only answers that say the
// upstream is sick), Retry (safe retries with full-jitter backoff and a
// per-try timeout) and the RetryBudget that caps them, Fallback (a
// validated static response, held as status, body and headers) and Split
// (which named subset of an upstream a request goes to, by header, cookie,
// sticky key or weight). Every value is built once by a validating
// constructor and is safe for concurrent use. resilience does not know
// HTTP: it never reads an *http.Request (Split reads a Request interface
// the HTTP side adapts) and never writes a response (the HTTP side writes
// a Fallback); it does not read configuration, choose connections or make
// the try itself, which the gateway hands Invoke.
package resilience

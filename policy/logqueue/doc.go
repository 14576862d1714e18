// Package logqueue takes log lines off the request path: a bounded buffer
// in front of a log sink, handed to the sink in batches by a goroutine of
// its own that a timer wakes (never the request that logs), and that drops
// and counts lines rather than slow a request when the sink cannot keep
// up. It knows nothing of what the lines say.
package logqueue

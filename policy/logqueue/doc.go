// Package logqueue takes log lines off the request path: a bounded queue
// in front of a log sink, written by a goroutine of its own, that drops
// and counts lines rather than slow a request when the sink cannot keep
// up. It knows nothing of what the lines say.
package logqueue

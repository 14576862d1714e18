// Package serve is the shared body of the example server commands: flags, logging,
// signal handling and exit codes around an examples.Backend. It holds no logic of the
// backends themselves.
package serve

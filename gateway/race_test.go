//go:build race

package gateway_test

// raceEnabled: the race detector slows every request several times, so the
// longest floods send fewer requests under it.
const raceEnabled = true

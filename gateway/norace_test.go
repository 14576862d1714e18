//go:build !race

package gateway_test

// raceEnabled is false without the race detector: floods send their
// full number of requests.
const raceEnabled = false

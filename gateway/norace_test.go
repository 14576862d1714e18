//go:build !race

package gateway_test

// raceEnabled: see race_test.go.
const raceEnabled = false

//go:build !race

package frontend

// raceEnabled is false: the load test runs in full.
const raceEnabled = false

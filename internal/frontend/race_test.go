//go:build race

package frontend

// raceEnabled cuts the load test down: the race detector slows it several
// times over.
const raceEnabled = true

//go:build !race

package hub

// raceSlowdown is 1 without the race detector.
const raceSlowdown = 1

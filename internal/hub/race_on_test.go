//go:build race

package hub

// raceSlowdown is how much slower the race detector makes the code that
// timing tests measure (instrumented memory accesses: 5-20 times, more on
// a loaded machine).
const raceSlowdown = 20

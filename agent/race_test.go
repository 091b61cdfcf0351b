//go:build race

package agent

// raceEnabled: built with -race, where sync.Pool drops items at random, so
// code that pools memory (regexp's matchers) allocates now and then.
const raceEnabled = true

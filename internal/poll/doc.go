// Package poll is how the hub's tests wait for a condition that no channel
// or event announces: a port that starts listening, a log line, a goroutine
// count back at its baseline. A test polls with a deadline, never with a
// time.Sleep guess: Until fails the test saying what it waited for, Wait
// leaves the failure message to a caller that has more to tell (the last
// error, a log). hubtest.Eventually is the same wait for plugin authors.
package poll

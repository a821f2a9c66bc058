//go:build race

package main

// raceEnabled: the test binary was built with -race, and so is orderbot.
const raceEnabled = true

//go:build race

package testenv

// raceEnabled: under `go test -race` the daemon under test is built with the
// race detector too, so integration tests check its concurrency as well.
const raceEnabled = true

// Package bench holds the hub's benchmarks and load generators, and the two
// tiny plugins they route to. Results, machine and the commands that
// reproduce them are in docs/BENCHMARKS.md.
//
// Nothing here runs in `go test ./...`: the load generator is a command
// (bench/cmd/wsload), and it measures against a bare gorilla/websocket
// server started in the same run, so every number is a ratio to a baseline
// taken on the same machine, minutes apart at most.
//
// Importing the package registers its plugins, the way a bundled plugin
// does: "bench-echo" echoes every frame (the consumer under test in the
// echo benchmark), and "bench-probe" refuses every handshake after noting
// the hub's channel layer, so the load generator's server process can
// report how many channels and groups the layer still holds.
package bench

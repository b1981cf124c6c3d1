// Package syncbuf has the one buffer tests share between a logger (or a
// process's output) written from many goroutines and the test reading it.
package syncbuf

package exec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"sync"
	"sync/atomic"
)

// Limits of the line protocol.
const (
	// maxLine is the longest line read from the plugin; a longer one is
	// discarded as invalid.
	maxLine = 1 << 20
	// stdinQueue is how many lines may wait for the plugin to read stdin.
	stdinQueue = 256
)

var errDied = errors.New("exec: plugin process exited")

// proc is one run of the plugin's process: its stdin queue and the line
// reader of its stdout. It lives until the process exits.
type proc struct {
	p     *Plugin
	cmd   *osexec.Cmd
	in    chan *outLine // lines for stdin, written by the writer goroutine
	hello chan int      // the protocol of the plugin.hello, once
	dead  chan struct{} // closed once the process has exited and its output is read
	quit  chan struct{} // closed when the writer goroutine has returned
	err   error         // why it exited; valid once dead is closed
	kill  func()        // ends the process: stdin closed, killed after StopGrace
}

// spawn starts the process and the goroutines that own its pipes: the
// stdin writer and the waiter (os/exec's own copy goroutines feed stdout
// and stderr to lineWriters). All of them end when the process does.
func (p *Plugin) spawn(ctx context.Context) (*proc, error) {
	ctx, cancel := context.WithCancel(ctx)
	cmd := osexec.CommandContext(ctx, p.cfg.Command[0], p.cfg.Command[1:]...)
	cmd.Dir = p.cfg.Dir
	cmd.Env = append(os.Environ(), p.cfg.Env...)
	pr := &proc{p: p, cmd: cmd, in: make(chan *outLine, stdinQueue), hello: make(chan int, 1),
		dead: make(chan struct{}), quit: make(chan struct{}), kill: cancel}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("exec: %s: %w", p.cfg.Name, err)
	}
	// Cancelling asks the plugin to exit by closing its stdin (EOF is its
	// signal to stop); WaitDelay later it is killed and its pipes closed,
	// even if a child of it still holds them.
	cmd.Cancel = stdin.Close
	cmd.WaitDelay = p.cfg.StopGrace
	cmd.Stdout = &lineWriter{line: pr.handleLine, long: pr.tooLong}
	cmd.Stderr = &lineWriter{line: p.logStderr, long: func() {}}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("exec: %s: start %q: %w", p.cfg.Name, p.cfg.Command[0], err)
	}
	p.log.Info("exec: plugin started", "pid", cmd.Process.Pid)
	go pr.write(stdin)
	go func() {
		pr.err = cmd.Wait()
		cancel()
		close(pr.dead)
	}()
	return pr, nil
}

// outLine is one line for stdin. written tells an event that died with
// its process whether the process could have read it at all.
type outLine struct {
	b       []byte
	written atomic.Bool
}

func newLine(v any) (*outLine, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("exec: encode: %w", err)
	}
	return &outLine{b: append(b, '\n')}, nil
}

// write copies queued lines to stdin until the process dies; after a
// failed write it only drains, so senders never block on a dead process.
func (pr *proc) write(stdin io.WriteCloser) {
	defer close(pr.quit)
	broken := false
	for {
		select {
		case line := <-pr.in:
			if !broken {
				_, err := stdin.Write(line.b)
				broken = err != nil
				line.written.Store(!broken)
			}
		case <-pr.dead:
			return
		}
	}
}

// wrote reports whether line reached the dead process's stdin, so the
// process may have read it. (Once the writer has returned, written is
// final.)
func (pr *proc) wrote(line *outLine) bool {
	<-pr.quit
	return line != nil && line.written.Load()
}

// send queues one line for stdin, waiting for room until ctx ends or the
// process dies.
func (pr *proc) send(ctx context.Context, v any) error {
	_, err := pr.sendLine(ctx, v)
	return err
}

func (pr *proc) sendLine(ctx context.Context, v any) (*outLine, error) {
	line, err := newLine(v)
	if err != nil {
		return nil, err
	}
	select {
	case pr.in <- line:
		return line, nil
	case <-pr.dead:
		return line, errDied
	case <-ctx.Done():
		return line, ctx.Err()
	}
}

// trySend queues a line only if there is room: for the stdout reader and
// for farewells, which must not wait.
func (pr *proc) trySend(v any) {
	line, err := newLine(v)
	if err != nil {
		return
	}
	select {
	case pr.in <- line:
	default:
	}
}

// handshake sends hub.hello and waits for plugin.hello.
func (pr *proc) handshake(ctx context.Context) error {
	name := pr.p.cfg.Name
	ctx, cancel := context.WithTimeout(ctx, pr.p.cfg.HandshakeTimeout)
	defer cancel()
	if err := pr.send(ctx, hubHello{Type: "hub.hello", Protocol: Protocol, Plugin: name}); err != nil {
		return fmt.Errorf("exec: %s: handshake: %w", name, err)
	}
	select {
	case v := <-pr.hello:
		if v != Protocol {
			return fmt.Errorf("%w: plugin %s speaks protocol %d, the hub speaks %d", ErrProtocol, name, v, Protocol)
		}
		return nil
	case <-pr.dead:
		return fmt.Errorf("exec: %s: exited before plugin.hello: %v", name, pr.err)
	case <-ctx.Done():
		return fmt.Errorf("exec: %s: no plugin.hello within %v", name, pr.p.cfg.HandshakeTimeout)
	}
}

func (pr *proc) exited() bool {
	select {
	case <-pr.dead:
		return true
	default:
		return false
	}
}

func (pr *proc) exitErr() error {
	if pr.err == nil {
		return errDied
	}
	return fmt.Errorf("%w: %v", errDied, pr.err)
}

// handleLine reads one line of stdout. It runs on os/exec's copy goroutine
// and never blocks: actions are queued on their scope, which performs them
// on its own goroutine, so a slow scope never holds up another.
func (pr *proc) handleLine(line []byte) {
	p := pr.p
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	var m pluginLine
	if err := json.Unmarshal(line, &m); err != nil {
		p.invalidLine(line, err.Error())
		return
	}
	switch {
	case m.Type == "plugin.hello":
		select {
		case pr.hello <- m.Protocol:
		default:
			p.invalidLine(line, "plugin.hello twice")
		}
	case m.Type == "done" || m.Action != nil:
		c := p.lookup(m.Scope)
		if c == nil && m.Type == "done" {
			return // the acknowledgement of a scope.disconnect, or a late one
		}
		if c == nil {
			p.dropped.Add(1)
			p.log.Warn("exec: message for no live scope dropped", "scope", m.Scope, "line", clip(line))
			pr.refuse(m.ID, "no live scope "+m.Scope)
			return
		}
		if !c.push(item{pr: pr, done: m.Type == "done", seq: m.For, id: m.ID, action: m.Action}) {
			p.dropped.Add(1)
			p.log.Warn("exec: scope's action queue full; dropped", "scope", m.Scope, "line", clip(line))
			pr.refuse(m.ID, "action queue full")
		}
	default:
		p.invalidLine(line, "neither an action nor a known type")
	}
}

// refuse answers an action that asked for a result, without waiting: the
// reader must not block on stdin.
func (pr *proc) refuse(id json.RawMessage, why string) {
	if id == nil {
		return
	}
	pr.trySend(reply{Type: "action.result", ID: id, Error: why})
}

func (pr *proc) tooLong() { pr.p.invalidLine(nil, fmt.Sprintf("line longer than %d bytes", maxLine)) }

func (p *Plugin) invalidLine(line []byte, why string) {
	p.invalid.Add(1)
	p.log.Warn("exec: invalid line from plugin skipped", "why", why, "line", clip(line))
}

func (p *Plugin) logStderr(line []byte) {
	p.log.Info("exec: plugin stderr", "line", string(bytes.TrimRight(line, "\r")))
}

func clip(line []byte) string {
	const n = 200
	if len(line) > n {
		return string(line[:n]) + "…"
	}
	return string(line)
}

// lineWriter splits what a process writes into lines for line, and
// discards lines longer than maxLine (calling long once for each).
type lineWriter struct {
	line func([]byte)
	long func()

	mu       sync.Mutex
	buf      []byte
	skipping bool // inside an over-long line
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			w.buf = append(w.buf, b...)
			if len(w.buf) > maxLine {
				w.buf, w.skipping = w.buf[:0], true
			}
			break
		}
		if w.skipping || len(w.buf)+i > maxLine {
			w.long()
		} else {
			w.line(append(w.buf, b[:i]...))
		}
		w.buf, w.skipping, b = w.buf[:0], false, b[i+1:]
	}
	return n, nil
}

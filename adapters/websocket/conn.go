package websocket

import (
	"bufio"
	"sync"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/hubhq/hub/core"
)

type connState int

const (
	stateHandshake connState = iota // waiting for the application's Accept or Close
	stateOpen                       // upgraded; frames flow both ways
	stateClosing                    // a close code is decided; only the close frame is still to go
	stateClosed                     // torn down, or never opened
)

// conn is one WebSocket connection and its scope. Its code is in three
// files: send.go performs the application's actions, write.go queues and
// writes frames, read.go reads, parks and tears down. The reader owns the
// end (teardown); everything else only decides and queues.
type conn struct {
	a     *Adapter
	scope *core.Scope
	inst  *core.Instance
	ws    *gorilla.Conn // set with state open, under mu
	w     *wire         // the network connection under ws (set with ws)
	br    *bufio.Reader // gorilla's read buffer; its buffer is detached while parked

	mu        sync.Mutex
	state     connState
	hs        *handshake  // non-nil while state is stateHandshake
	queue     [][]byte    // frames waiting for the flusher
	flushing  bool        // a writer is at work: a sender writing at once, or a flusher goroutine
	pingDue   bool        // the flusher owes the client a ping
	closeSent bool        // the close frame is written (or cannot be)
	code      int         // the close code decided, 0 while open
	reason    string      // and its reason
	lingering bool        // drain the client's data before closing
	parked    bool        // no reader: the socket waits in the poller
	noPark    bool        // the socket cannot be parked (TLS)
	pollID    int32       // the socket's id in the poller (guarded by the poller's mu)
	pingSlot  int32       // the socket's slot in the pinger, -1 for none (guarded by the pinger's mu)
	seen      time.Time   // when the client last proved alive
	rdl       time.Time   // the read deadline in force
	closer    *time.Timer // drops a socket whose client does not answer the close

	pingPrev, pingNext *conn // the socket's neighbours in its pinger slot (guarded by the pinger's mu)
}

// setReadDeadlineLocked sets the socket's read deadline. Callers hold mu.
func (c *conn) setReadDeadlineLocked(t time.Time) {
	if !t.Equal(c.rdl) {
		c.rdl = t
		_ = c.w.SetReadDeadline(t)
	}
}

package websocket

import "net/http"

// Close codes the hub uses (RFC 6455 §7.4.1).
const (
	CloseNormal        = 1000
	CloseGoingAway     = 1001 // the hub is shutting down
	CloseUnsupported   = 1003 // e.g. a binary frame to a JSON consumer
	CloseNoStatus      = 1005
	CloseAbnormal      = 1006 // the connection dropped without a close frame
	CloseInvalidData   = 1007 // e.g. invalid JSON
	ClosePolicy        = 1008 // e.g. a client too slow to keep up
	CloseTooBig        = 1009 // a message over the size limit
	CloseInternalError = 1011 // the application failed after accepting
	CloseTryAgainLater = 1013 // the scope's inbox overflowed
)

// Connect is the client's handshake; answer with Accept or Close.
type Connect struct{}

// Receive is one message from the client: a text frame (Bytes nil) or a
// binary frame (Bytes non-nil, Text empty).
type Receive struct {
	Text  string
	Bytes []byte
}

// IsBinary reports whether the frame was binary.
func (r Receive) IsBinary() bool { return r.Bytes != nil }

// Disconnect says the socket is gone, with the close code (1006 when it
// dropped without a close frame). It is always the scope's last event.
type Disconnect struct {
	Code   int
	Reason string
}

// Accept completes the handshake, optionally choosing one of the client's
// subprotocols and adding response headers.
type Accept struct {
	Subprotocol string
	Headers     http.Header
}

// Send sends one message: text, or binary when Bytes is non-nil.
type Send struct {
	Text  string
	Bytes []byte
}

// Close closes the socket with a code and reason; before Accept it denies
// the handshake with HTTP 403 instead.
type Close struct {
	Code   int
	Reason string
}

// Type implements core.Event.
func (Connect) Type() string    { return "websocket.connect" }
func (Receive) Type() string    { return "websocket.receive" }
func (Disconnect) Type() string { return "websocket.disconnect" }
func (Accept) Type() string     { return "websocket.accept" }
func (Send) Type() string       { return "websocket.send" }
func (Close) Type() string      { return "websocket.close" }

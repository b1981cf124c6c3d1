package websocket

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	gorilla "github.com/gorilla/websocket"

	"github.com/hubhq/hub/core"
	ws "github.com/hubhq/hub/core/websocket"
)

// appEnded is the adapter's private event: watched sends it through the
// scope's own SendFunc when the application returns or panics, so the
// connection learns of it without a goroutine per socket waiting on
// Instance.Done.
type appEnded struct {
	err   error // nil for a plain return; errPanicked for a panic
	cause error // why the instance's context ended, if it has
}

func (appEnded) Type() string { return "websocket.app_ended" }

var errPanicked = errors.New("websocket: application panicked")

// watched wraps the runtime's application to report its end to the
// adapter. It does not recover panics: the runtime does, and counts them.
// It resolves routers itself, as the runtime would, so that the consumer's
// loop still runs right under the instance frame, one frame deeper.
type watched struct{ app core.Application }

// Serve implements core.Application.
func (w watched) Serve(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
	end := appEnded{err: errPanicked}
	defer func() {
		end.cause = context.Cause(ctx)
		_ = send(ctx, end)
	}()
	app, s, err := core.Resolve(w.app, scope)
	if err == nil {
		err = app.Serve(ctx, s, inbox, send)
	}
	end.err = err
	return err
}

// ErrClosed is returned by a scope's SendFunc once its socket is closing or
// closed; it wraps core.ErrScopeClosed.
var ErrClosed = fmt.Errorf("websocket: connection closed: %w", core.ErrScopeClosed)

// send is the scope's SendFunc: it performs the application's actions. It is
// safe for concurrent use and never waits on the network.
func (c *conn) send(ctx context.Context, ev core.Event) error {
	switch ev := deref(ev).(type) {
	case ws.Send:
		return c.sendFrame(ctx, ev)
	case ws.Accept:
		return c.accept(ctx, ev)
	case ws.Close:
		return c.close(ctx, ev)
	case appEnded:
		c.ended(ev)
		return nil
	default:
		return fmt.Errorf("websocket: %s: cannot send %q on a websocket scope", c.scope.Key, typeOf(ev))
	}
}

// deref lets applications send actions as values or pointers.
func deref(ev core.Event) core.Event {
	switch e := ev.(type) {
	case *ws.Send:
		if e != nil {
			return *e
		}
	case *ws.Accept:
		if e != nil {
			return *e
		}
	case *ws.Close:
		if e != nil {
			return *e
		}
	}
	return ev
}

func typeOf(ev core.Event) string {
	if ev == nil {
		return "<nil>"
	}
	return ev.Type()
}

// handshakeAction hands an action to the waiting ServeHTTP. It returns
// errHandshakeOver if the handshake is no longer waiting, with ok false if
// the socket is not in its handshake at all.
func (c *conn) handshakeAction(ctx context.Context, ev core.Event, reply chan error) (ok bool, err error) {
	c.mu.Lock()
	hs := c.hs
	c.mu.Unlock()
	if hs == nil {
		return false, nil
	}
	select {
	case hs.actions <- hsAction{ev: ev, reply: reply}:
		return true, nil
	case <-hs.over:
		return true, errHandshakeOver
	case <-ctx.Done():
		return true, ctx.Err()
	}
}

func (c *conn) accept(ctx context.Context, acc ws.Accept) error {
	reply := make(chan error, 1)
	ok, err := c.handshakeAction(ctx, acc, reply)
	switch {
	case !ok:
		return fmt.Errorf("websocket: accept %s: already accepted or closed", c.scope.Key)
	case err != nil:
		return fmt.Errorf("websocket: accept %s: %w", c.scope.Key, err)
	}
	return <-reply // ServeHTTP answers as soon as the upgrade is done
}

// sendFrame queues one message. Like Daphne, a send before Accept accepts.
func (c *conn) sendFrame(ctx context.Context, s ws.Send) error {
	if s.Bytes == nil && !utf8.ValidString(s.Text) {
		return fmt.Errorf("websocket: send to %s: text is not valid UTF-8", c.scope.Key)
	}
	if c.is(stateHandshake) {
		// Another goroutine of the application may accept first: only a
		// handshake that did not open the socket fails the send.
		if err := c.accept(ctx, ws.Accept{}); err != nil && !c.is(stateOpen) {
			return err
		}
	}
	op := byte(gorilla.TextMessage)
	if s.Bytes != nil {
		op = gorilla.BinaryMessage
	}
	return c.enqueue(newFrame(op, s.Text, s.Bytes))
}

func (c *conn) is(st connState) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == st
}

func (c *conn) close(ctx context.Context, cl ws.Close) error {
	if cl.Code == 0 {
		cl.Code = ws.CloseNormal
	}
	if !sendableCode(cl.Code) {
		return fmt.Errorf("websocket: close %s: code %d may not be sent in a close frame", c.scope.Key, cl.Code)
	}
	if ok, err := c.handshakeAction(ctx, cl, nil); ok {
		return err // a denial: ServeHTTP answers 403
	}
	if !c.startClose(cl.Code, truncate(cl.Reason, 123), false) {
		return ErrClosed
	}
	return nil
}

// sendableCode reports whether code may travel in a close frame (RFC 6455
// §7.4): 1005, 1006 and 1015 only describe closes, and 1004 is reserved.
func sendableCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	default:
		return code >= 3000 && code <= 4999
	}
}

// truncate cuts s to at most n bytes without splitting a rune: a close
// frame's reason fits in 123.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ended closes the socket for an application that returned after accepting:
// 1000 for a plain return, 1011 for an error or panic, 1013 when the runtime
// ended it for a full inbox. Before accepting, ServeHTTP answers instead.
func (c *conn) ended(e appEnded) {
	if ok, _ := c.handshakeAction(context.Background(), e, nil); ok {
		return
	}
	switch {
	case errors.Is(e.cause, core.ErrInboxFull):
		c.startClose(ws.CloseTryAgainLater, "inbox full", false)
	case e.err != nil:
		c.startClose(ws.CloseInternalError, "internal error", false)
	default:
		c.startClose(ws.CloseNormal, "", false)
	}
}

package websocket

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"

	"github.com/hubhq/hub/core"
	ws "github.com/hubhq/hub/core/websocket"
	"github.com/hubhq/hub/internal/poll"
)

func TestNewFrame(t *testing.T) {
	for _, tc := range []struct {
		n      int
		header []byte
	}{
		{0, []byte{0x81, 0}},
		{125, []byte{0x81, 125}},
		{126, []byte{0x81, 126, 0, 126}},
		{0xffff, []byte{0x81, 126, 0xff, 0xff}},
		{0x10000, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	} {
		text := strings.Repeat("x", tc.n)
		f := newFrame(gorilla.TextMessage, text, nil)
		if !bytes.Equal((*f)[:len(tc.header)], tc.header) || string((*f)[len(tc.header):]) != text {
			t.Errorf("%d bytes: header % x, want % x", tc.n, (*f)[:min(len(*f), 10)], tc.header)
		}
		if b := newFrame(gorilla.BinaryMessage, "", []byte{}); !bytes.Equal(*b, []byte{0x82, 0}) {
			t.Errorf("empty binary frame = % x", *b)
		}
	}
}

func TestWholeFrame(t *testing.T) {
	long := maskedFrame(0x1, bytes.Repeat([]byte("y"), 125))
	ext := append([]byte{0x82, 0x80 | 126, 0, 200, 0, 0, 0, 0}, make([]byte, 200)...)
	for _, tc := range []struct {
		name string
		in   []byte
		want bool
	}{
		{"empty", nil, false},
		{"one byte", []byte{0x81}, false},
		{"text", maskedFrame(0x1, []byte("hi")), true},
		{"text and more", append(maskedFrame(0x1, []byte("hi")), 0x81), true},
		{"half a text", maskedFrame(0x1, []byte("hello"))[:4], false},
		{"125 bytes", long, true},
		{"125 bytes less one", long[:len(long)-1], false},
		{"16-bit length", ext, true},
		{"16-bit length, cut", ext[:len(ext)-1], false},
		{"16-bit length, header cut", ext[:3], false},
		{"pong", maskedFrame(0xa, nil), true},
		{"ping", maskedFrame(0x9, nil), false},
		{"close", maskedFrame(0x8, []byte{3, 232}), false},
		{"not final", []byte{0x01, 0x80, 0, 0, 0, 0}, false},
	} {
		br := bufio.NewReaderSize(bytes.NewReader(tc.in), 4096)
		_, _ = br.Peek(len(tc.in))
		if got := wholeFrame(br); got != tc.want {
			t.Errorf("%s: wholeFrame = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestPingsDuringBigWrites: frames too big for the socket's buffers are
// finished by a flusher while the client pings; gorilla's pongs go out
// between frames, never inside one.
func TestPingsDuringBigWrites(t *testing.T) {
	const frames, size = 6, 1 << 20
	app := core.AppFunc(func(ctx context.Context, scope *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		for {
			ev, err := inbox.Next(ctx)
			if err != nil {
				return err
			}
			switch ev := ev.(type) {
			case ws.Connect:
				if err := send(ctx, ws.Accept{}); err != nil {
					return err
				}
			case ws.Receive:
				if ev.Text != "go" {
					if err := send(ctx, ws.Send(ev)); err != nil {
						return err
					}
					continue
				}
				for i := range frames {
					if err := send(ctx, ws.Send{Bytes: bytes.Repeat([]byte{byte('a' + i)}, size)}); err != nil {
						return err
					}
				}
			case ws.Disconnect:
				return nil
			}
		}
	})
	h := newHub(t, app, Options{})
	c := h.dial("/")
	pongs := make(chan struct{}, 1000)
	c.SetPongHandler(func(string) error { pongs <- struct{}{}; return nil })
	if err := c.WriteMessage(gorilla.TextMessage, []byte("go")); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { // pings while the frames go out
		defer close(done)
		for range 50 {
			if c.WriteControl(gorilla.PingMessage, []byte("p"), time.Now().Add(10*time.Second)) != nil {
				return
			}
		}
	}()
	for i := range frames {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		kind, got, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if want := bytes.Repeat([]byte{byte('a' + i)}, size); kind != gorilla.BinaryMessage || !bytes.Equal(got, want) {
			t.Fatalf("frame %d: kind %d, %d bytes, not the frame sent", i, kind, len(got))
		}
	}
	<-done
	roundTrip(t, c, "after") // reads the pongs still on the way
	if len(pongs) == 0 {
		t.Error("no pong came back")
	}
}

// TestParkedSocketHoldsNoReadBuffer: an idle socket gives its read buffer
// back when it parks, and takes one again for the next message.
func TestParkedSocketHoldsNoReadBuffer(t *testing.T) {
	h := newHub(t, echo(nil), Options{})
	c := h.dial("/")
	roundTrip(t, c, "first")
	if h.a.poller() == nil {
		t.Skip("no poller here: sockets keep their reader")
	}
	var sc *conn
	h.a.mu.Lock()
	for x := range h.a.conns {
		sc = x
	}
	h.a.mu.Unlock()
	poll.Until(t, patience, "the socket to park", func() bool {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		return sc.parked && sc.br.Size() == 0
	})
	roundTrip(t, c, strings.Repeat("z", 3000))
}

// TestWireKeepsFramesWhole: a frame the socket took only in part holds the
// wire until a writer that may wait finishes it; gorilla's own frames (a
// pong here) wait for it, so the client never sees one inside another.
func TestWireKeepsFramesWhole(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	w := newWire(server)
	if w.rc == nil {
		t.Skip("no raw connection")
	}

	big := *newFrame(gorilla.BinaryMessage, "", bytes.Repeat([]byte{'b'}, 16<<20))
	w.mu.Lock()
	n, err := w.tryWrite(big)
	if err != nil || n >= len(big) {
		t.Fatalf("tryWrite = %d of %d, %v; want a part", n, len(big), err)
	}
	pong := []byte{finalBit | gorilla.PongMessage, 0}
	ponged := make(chan error, 1)
	go func() { _, err := w.Write(pong); ponged <- err }() // as gorilla answers a ping

	// The client reads what went out; the pong, which would fit now, must not follow.
	got := make([]byte, len(big)+len(pong))
	if _, err := io.ReadFull(client, got[:n]); err != nil {
		t.Fatal(err)
	}
	_ = client.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if m, _ := client.Read(got[n:]); m > 0 {
		t.Fatalf("%d bytes arrived before the frame was finished", m)
	}
	_ = client.SetReadDeadline(time.Time{})

	read := make(chan error, 1)
	go func() { _, err := io.ReadFull(client, got[n:]); read <- err }()
	if err := w.finish(big[n:], time.Now().Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, ponged, "the pong"); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, read, "the rest"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, append(big, pong...)) {
		t.Error("the client did not get the frame whole, then the pong")
	}
}

func TestPingerSlots(t *testing.T) {
	p := newPinger(time.Hour) // no tick during the test
	defer p.halt()
	conns := make([]*conn, 5)
	for i := range conns {
		conns[i] = &conn{pingSlot: -1}
		p.add(conns[i])
	}
	p.remove(conns[0])
	p.remove(conns[2])
	p.remove(conns[4])
	p.remove(conns[2]) // again: nothing happens
	p.remove(&conn{pingSlot: -1})
	var got []*conn
	for _, head := range p.slots {
		for c := head; c != nil; c = c.pingNext {
			got = append(got, c)
		}
	}
	if len(got) != 2 || !slices.Contains(got, conns[1]) || !slices.Contains(got, conns[3]) {
		t.Errorf("slots hold %d sockets, want conns 1 and 3", len(got))
	}
}

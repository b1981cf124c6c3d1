package websocket

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"
	"unicode/utf8"

	gorilla "github.com/gorilla/websocket"

	ws "github.com/hubhq/hub/core/websocket"
)

// FuzzMessage sends one message of any payload through an echoing hub: it
// comes back unchanged, or the socket closes with the code the payload
// deserves (1007 for text that is not UTF-8, 1009 over the size limit).
func FuzzMessage(f *testing.F) {
	const limit = 4096
	f.Add([]byte("hello"), false)
	f.Add([]byte{}, false)
	f.Add([]byte{}, true)
	f.Add([]byte{0, 1, 2, 0xff}, true)
	f.Add([]byte{0xff, 0xfe}, false)
	f.Add(bytes.Repeat([]byte("x"), limit+1), true)
	h := newHub(f, echo(nil), Options{MaxMessageSize: limit})
	f.Fuzz(func(t *testing.T, payload []byte, binary bool) {
		c, _, err := gorilla.DefaultDialer.Dial(h.url("/"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		kind, want := gorilla.TextMessage, 0
		switch {
		case len(payload) > limit:
			want = ws.CloseTooBig
		case binary:
			kind = gorilla.BinaryMessage
		case !utf8.Valid(payload):
			want = ws.CloseInvalidData
		}
		if binary {
			kind = gorilla.BinaryMessage
		}
		if err := c.WriteMessage(kind, payload); err != nil {
			t.Fatal(err)
		}
		if want != 0 {
			if code, _ := closeCode(t, c); code != want {
				t.Fatalf("close code %d, want %d", code, want)
			}
			return
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		gotKind, got, err := c.ReadMessage()
		if err != nil || gotKind != kind || !bytes.Equal(got, payload) {
			t.Fatalf("echo: kind %d, %d bytes, %v; want kind %d, %d bytes", gotKind, len(got), err, kind, len(payload))
		}
	})
}

// FuzzFrameStream writes arbitrary bytes after the handshake, as if they were
// frames: the server must neither panic nor keep the socket or its instance
// once the client hangs up.
func FuzzFrameStream(f *testing.F) {
	f.Add(maskedFrame(0x1, []byte("hi")))
	f.Add(maskedFrame(0xa, []byte("pong")))
	f.Add(append(maskedFrame(0xa, nil), maskedFrame(0x2, []byte{1})...))
	f.Add([]byte{0x8a, 0xff})                     // a pong claiming 127 bytes
	f.Add([]byte{0x0a, 0x80, 0, 0, 0, 0})         // a pong without FIN
	f.Add([]byte{0x81, 0x05, 'h', 'e', 'l', 'l'}) // unmasked
	f.Add(maskedFrame(0x8, []byte{0x03, 0xe8}))
	h := newHub(f, echo(nil), Options{MaxMessageSize: 4096, CloseTimeout: 500 * time.Millisecond})
	f.Fuzz(func(t *testing.T, stream []byte) {
		d := gorilla.Dialer{HandshakeTimeout: 5 * time.Second}
		c, _, err := d.Dial(h.url("/"), nil)
		if err != nil {
			t.Fatal(err)
		}
		nc := c.NetConn()
		_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Write(stream); err != nil {
			t.Fatalf("write: %v", err)
		}
		_ = nc.(*net.TCPConn).CloseWrite()
		// Read until the server closes: it has seen the end of the stream.
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 4096)
		for {
			if _, err := nc.Read(buf); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatal("server kept the socket open after the client hung up")
				}
				break
			}
		}
		nc.Close()
	})
}

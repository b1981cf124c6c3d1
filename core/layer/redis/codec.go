package redis

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/core/layer/internal/wire"
)

// prefixLen is channels_redis' random_prefix_length: random bytes before
// each serialised message, so two equal messages are distinct members of a
// channel's sorted set.
const prefixLen = 12

// asgiChannel is the reserved message key that carries the full name of a
// process-local channel (a string from send, a list from group_send).
const asgiChannel = "__asgi_channel__"

// codec turns messages into sorted-set members and back, the way
// channels_redis' MsgPackSerializer does: the msgpack body is package wire's,
// shared with the NATS layer; the random prefix, "__asgi_channel__" and
// Fernet around it are channels_redis' and stay here.
type codec struct {
	fernet *multiFernet // nil without symmetric encryption
	ttl    time.Duration
}

// encode serialises msg: random prefix + msgpack (+ Fernet). to is the value
// of "__asgi_channel__": nil for a fixed-name channel, a string or a list.
func (c codec) encode(msg layer.Message, to any) ([]byte, error) {
	var buf bytes.Buffer
	enc, err := startEncode(&buf, msg, to != nil)
	if err != nil {
		return nil, err
	}
	if to != nil {
		if err := enc.EncodeString(asgiChannel); err != nil {
			return nil, err
		}
		if err := enc.Encode(to); err != nil {
			return nil, err
		}
	}
	b := buf.Bytes()
	if c.fernet == nil {
		return b, nil
	}
	token, err := c.fernet.encrypt(b[prefixLen:], time.Now())
	if err != nil {
		return nil, err
	}
	return append(b[:prefixLen:prefixLen], token...), nil
}

// encodeHead is encode without Fernet and with the "__asgi_channel__" entry
// counted in the map's length but left out: the group send script appends
// it (the key, then the list of channel names) once it knows the members.
func (c codec) encodeHead(msg layer.Message) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := startEncode(&buf, msg, true); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// startEncode writes the random prefix, the map header (one more entry if
// withTo) and msg's entries.
func startEncode(buf *bytes.Buffer, msg layer.Message, withTo bool) (*msgpack.Encoder, error) {
	buf.Grow(prefixLen + 64)
	buf.Write(make([]byte, prefixLen))
	if _, err := rand.Read(buf.Bytes()[:prefixLen]); err != nil {
		return nil, err
	}
	enc := wire.NewEncoder(buf)
	if err := enc.EncodeMapLen(len(msg) + boolInt(withTo)); err != nil {
		return nil, err
	}
	for k, v := range msg {
		if k == asgiChannel {
			return nil, fmt.Errorf("message uses the reserved key %q", asgiChannel)
		}
		if err := enc.EncodeString(k); err != nil {
			return nil, err
		}
		if err := enc.Encode(v); err != nil {
			return nil, fmt.Errorf("encode %q: %w", k, err)
		}
	}
	return enc, nil
}

// decode parses a member written by encode or by channels_redis. It returns
// the message without "__asgi_channel__" and the channel names it carried.
func (c codec) decode(b []byte) (layer.Message, []string, error) {
	if len(b) < prefixLen {
		return nil, nil, errors.New("message shorter than its random prefix")
	}
	b = b[prefixLen:]
	if c.fernet != nil {
		var err error
		if b, err = c.fernet.decrypt(b, c.ttl, time.Now()); err != nil {
			return nil, nil, err
		}
	}
	m, err := wire.Decode(b)
	if err != nil {
		return nil, nil, err
	}
	var to []string
	switch v := m[asgiChannel].(type) {
	case string:
		to = []string{v}
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				to = append(to, s)
			}
		}
	}
	delete(m, asgiChannel)
	return layer.Message(m), to, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

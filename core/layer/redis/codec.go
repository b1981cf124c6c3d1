package redis

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/hubhq/hub/core/layer"
)

// prefixLen is channels_redis' random_prefix_length: random bytes before
// each serialised message, so two equal messages are distinct members of a
// channel's sorted set.
const prefixLen = 12

// asgiChannel is the reserved message key that carries the full name of a
// process-local channel (a string from send, a list from group_send).
const asgiChannel = "__asgi_channel__"

// codec turns messages into sorted-set members and back, the way
// channels_redis' MsgPackSerializer does.
type codec struct {
	fernet *multiFernet // nil without symmetric encryption
	ttl    time.Duration
}

// encode serialises msg: random prefix + msgpack (+ Fernet). to is the value
// of "__asgi_channel__": nil for a fixed-name channel, a string or a list.
func (c codec) encode(msg layer.Message, to any) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(prefixLen + 64)
	buf.Write(make([]byte, prefixLen))
	if _, err := rand.Read(buf.Bytes()[:prefixLen]); err != nil {
		return nil, err
	}
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	if err := enc.EncodeMapLen(len(msg) + boolInt(to != nil)); err != nil {
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
	v, err := decodeValue(msgpack.NewDecoder(bytes.NewReader(b)))
	if err != nil {
		return nil, nil, fmt.Errorf("msgpack: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("msgpack: message is %T, not a map", v)
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

// decodeValue decodes what Python's msgpack writes into the plainest Go
// values: str → string, bin → []byte, integers → int64 (uint64 only past
// int64), floats → float64, maps → map[string]any (other keys printed),
// arrays → []any. The library's own loose decoding turns bin into string,
// which would lose bytes/str, a distinction Channels messages rely on.
func decodeValue(d *msgpack.Decoder) (any, error) {
	c, err := d.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case msgpcode.IsBin(c):
		return d.DecodeBytes()
	case msgpcode.IsFixedNum(c), c == msgpcode.Int8, c == msgpcode.Int16, c == msgpcode.Int32, c == msgpcode.Int64:
		return d.DecodeInt64()
	case c == msgpcode.Uint8, c == msgpcode.Uint16, c == msgpcode.Uint32, c == msgpcode.Uint64:
		u, err := d.DecodeUint64()
		if err != nil || u > math.MaxInt64 {
			return u, err
		}
		return int64(u), nil
	case c == msgpcode.Float, c == msgpcode.Double:
		return d.DecodeFloat64()
	case msgpcode.IsFixedMap(c), c == msgpcode.Map16, c == msgpcode.Map32:
		return decodeMap(d)
	case msgpcode.IsFixedArray(c), c == msgpcode.Array16, c == msgpcode.Array32:
		n, err := d.DecodeArrayLen()
		if err != nil || n < 0 {
			return nil, err
		}
		a := make([]any, n)
		for i := range a {
			if a[i], err = decodeValue(d); err != nil {
				return nil, err
			}
		}
		return a, nil
	}
	return d.DecodeInterface()
}

func decodeMap(d *msgpack.Decoder) (any, error) {
	n, err := d.DecodeMapLen()
	if err != nil || n < 0 {
		return nil, err
	}
	m := make(map[string]any, n)
	for range n {
		k, err := decodeValue(d)
		if err != nil {
			return nil, err
		}
		v, err := decodeValue(d)
		if err != nil {
			return nil, err
		}
		switch k := k.(type) {
		case string:
			m[k] = v
		case []byte:
			m[string(k)] = v
		default:
			m[fmt.Sprint(k)] = v
		}
	}
	return m, nil
}

// Package wire is the msgpack form of channel-layer messages that the
// distributed layers share: what the NATS layer publishes, and the body of a
// channels_redis sorted-set member. Msgpack, as Channels' layers use, keeps
// strings and bytes apart (JSON would not).
//
// Only the encoding is shared. What wraps it stays with each layer: the
// Redis layer's random prefix, "__asgi_channel__" key and Fernet tokens are
// channels_redis' format; the NATS layer sends the bare map.
package wire

import (
	"bytes"
	"fmt"
	"io"
	"math"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// NewEncoder returns a msgpack encoder that writes integers in their
// smallest form, as Python's msgpack does.
func NewEncoder(w io.Writer) *msgpack.Encoder {
	enc := msgpack.NewEncoder(w)
	enc.UseCompactInts(true)
	return enc
}

// Decode parses one msgpack map into the plainest Go values (see Value).
func Decode(b []byte) (map[string]any, error) {
	v, err := Value(msgpack.NewDecoder(bytes.NewReader(b)))
	if err != nil {
		return nil, fmt.Errorf("msgpack: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("msgpack: message is %T, not a map", v)
	}
	return m, nil
}

// Value decodes what Python's msgpack (or this package's encoder) writes
// into the plainest Go values: str → string, bin → []byte, integers → int64
// (uint64 only past int64), floats → float64, maps → map[string]any (bin
// keys as their string, other keys printed), arrays → []any. The library's
// own loose decoding turns bin into string, which would lose bytes/str, a
// distinction Channels messages rely on.
func Value(d *msgpack.Decoder) (any, error) {
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
			if a[i], err = Value(d); err != nil {
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
		k, err := Value(d)
		if err != nil {
			return nil, err
		}
		v, err := Value(d)
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

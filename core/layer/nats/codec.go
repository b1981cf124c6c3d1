package nats

import (
	"bytes"
	"fmt"
	"math"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/hubhq/hub/core/layer"
)

// encode writes msg as msgpack, the encoding Channels layers use, so
// strings and bytes stay apart (JSON would not keep them apart).
func encode(msg layer.Message) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	if err := enc.Encode(map[string]any(msg)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decode(b []byte) (layer.Message, error) {
	v, err := decodeValue(msgpack.NewDecoder(bytes.NewReader(b)))
	if err != nil {
		return nil, fmt.Errorf("msgpack: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("msgpack: message is %T, not a map", v)
	}
	return layer.Message(m), nil
}

// decodeValue decodes into the plainest Go values: str → string, bin →
// []byte, integers → int64 (uint64 only past int64), floats → float64, maps
// → map[string]any, arrays → []any; the library's loose decoding would turn
// bin into string.
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
			if m[fmt.Sprint(k)], err = decodeValue(d); err != nil {
				return nil, err
			}
		}
		return m, nil
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

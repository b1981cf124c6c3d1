package nats

import (
	"bytes"

	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/core/layer/internal/wire"
)

// encode writes msg as a bare msgpack map (package wire, the encoding
// Channels layers use), so strings and bytes stay apart (JSON would not
// keep them apart). Only hub processes read it: no prefix, no envelope.
func encode(msg layer.Message) ([]byte, error) {
	var buf bytes.Buffer
	if err := wire.NewEncoder(&buf).Encode(map[string]any(msg)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decode(b []byte) (layer.Message, error) {
	m, err := wire.Decode(b)
	return layer.Message(m), err
}

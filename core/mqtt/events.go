package mqtt

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Message is one PUBLISH received from a broker. The payload is whatever the
// publisher sent: the adapter never interprets it, so a consumer decides what
// a malformed payload means (see Text and JSON).
type Message struct {
	Topic    string
	Payload  []byte
	QoS      byte
	Retained bool
	// Broker is the name of the broker connection it came through.
	Broker string
}

// ErrNotUTF8 is returned by Message.Text for a payload that is not UTF-8.
var ErrNotUTF8 = errors.New("mqtt: payload is not valid UTF-8")

// Text returns the payload as a string, or ErrNotUTF8: MQTT payloads are
// bytes, and a consumer that expects text should notice when it gets none.
func (m Message) Text() (string, error) {
	if !utf8.Valid(m.Payload) {
		return "", fmt.Errorf("%w (topic %q, %d bytes)", ErrNotUTF8, m.Topic, len(m.Payload))
	}
	return string(m.Payload), nil
}

// JSON decodes the payload into v.
func (m Message) JSON(v any) error {
	if err := json.Unmarshal(m.Payload, v); err != nil {
		return fmt.Errorf("mqtt: decode JSON payload of %q: %w", m.Topic, err)
	}
	return nil
}

// Disconnect ends a topic scope: the adapter sends it after the topic has
// been idle for the configured timeout, or when it shuts down. It is always
// the scope's last event; the next message on the topic opens a new scope.
type Disconnect struct {
	Reason string
}

// Publish is the action that publishes a message through the broker
// connection the scope belongs to. The adapter waits for the broker's
// acknowledgement (QoS 1 and 2) and returns its error to the sender.
type Publish struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
}

// Type implements core.Event.
func (Message) Type() string    { return "mqtt.message" }
func (Disconnect) Type() string { return "mqtt.disconnect" }
func (Publish) Type() string    { return "mqtt.publish" }

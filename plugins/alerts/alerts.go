package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/layer"
	hubmqtt "github.com/hubhq/hub/core/mqtt"
)

// MessageType is the type of the layer message an alert travels in, from
// the "alerts" consumer to "alerts-notify" (or to a worker of your own).
// Its other keys: "text" (what a chat shows), "kind" ("alert" or "normal"),
// "device", "topic", "value" and "threshold".
const MessageType = "alerts.notify"

// DefaultGroup is the layer group alerts go to when the config names none.
const DefaultGroup = "alerts"

// StatusType is the type of the layer message that asks every sensor now
// above its threshold to say so: {"type": "alerts.status", "reply_to":
// channel}. Sensors listen for it in the group "<notify group>.sensors";
// each one in alert answers with an alerts.notify of kind "status".
const StatusType = "alerts.status"

// sensorsGroup is where the sensors of one notify group listen for
// alerts.status, so a chat that opens late can learn what is already wrong.
func sensorsGroup(group string) string { return group + ".sensors" }

// lastKey is the state key of a sensor's last reading.
const lastKey = "last"

// Config is the "alerts" consumer's options.
type Config struct {
	// Threshold is the temperature above which a sensor is in alert.
	Threshold float64
	// Notify is where alerts go.
	Notify Target
	// Logger reports bad payloads (nil: slog.Default()).
	Logger *slog.Logger
}

// Target is a channel-layer destination: a group (every chat that routes to
// "alerts-notify" with that group) or one fixed channel (a worker's).
// Exactly one is set.
type Target struct {
	Group   string `json:"group,omitempty"`
	Channel string `json:"channel,omitempty"`
}

func (t Target) validate() error {
	switch {
	case t.Group != "" && t.Channel != "":
		return errors.New("notify: give a group or a channel, not both")
	case t.Group != "":
		return layer.ValidGroupName(t.Group)
	case t.Channel != "":
		return layer.ValidChannelName(t.Channel)
	}
	return errors.New("notify: give a group or a channel")
}

// Stats count what the consumer has seen since it was built, across all
// sensors.
type Stats struct {
	Readings    int64 // payloads read as a temperature
	BadPayloads int64 // payloads that were not one, logged and skipped
	Alerts      int64 // crossings above the threshold notified
	Recoveries  int64 // crossings back to normal notified
}

// Alerts is the sensor-side consumer: one instance per sensor topic.
type Alerts struct {
	cfg                                       Config
	readings, badPayloads, alerts, recoveries atomic.Int64
}

// New checks cfg and returns the consumer.
func New(cfg Config) (*Alerts, error) {
	if math.IsNaN(cfg.Threshold) || math.IsInf(cfg.Threshold, 0) {
		return nil, fmt.Errorf("alerts: threshold %v is not a number", cfg.Threshold)
	}
	if cfg.Notify == (Target{}) {
		cfg.Notify.Group = DefaultGroup
	}
	if err := cfg.Notify.validate(); err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Alerts{cfg: cfg}, nil
}

// Stats returns the counters.
func (a *Alerts) Stats() Stats {
	return Stats{Readings: a.readings.Load(), BadPayloads: a.badPayloads.Load(),
		Alerts: a.alerts.Load(), Recoveries: a.recoveries.Load()}
}

// Serve implements core.Application for one sensor's topic scope.
func (a *Alerts) Serve(ctx context.Context, scope *core.Scope, inbox core.Inbox, _ core.SendFunc) error {
	s := &sensor{a: a, scope: scope}
	if err := s.load(); err != nil {
		return err
	}
	if g := a.cfg.Notify.Group; g != "" && scope.Layer != nil {
		if err := scope.GroupAdd(ctx, sensorsGroup(g)); err != nil {
			return fmt.Errorf("alerts: %s: join %s: %w", scope.Key, sensorsGroup(g), err)
		}
	}
	for {
		ev, err := inbox.Next(ctx)
		if err != nil {
			return err
		}
		// Any protocol's disconnect is the scope's last event ("mqtt.disconnect";
		// "chat.disconnect" when a test drives the consumer as a conversation).
		if strings.HasSuffix(ev.Type(), ".disconnect") {
			return nil
		}
		switch ev := ev.(type) {
		case hubmqtt.Message:
			if err := s.reading(ctx, ev); err != nil {
				return err
			}
		case *hubmqtt.Message: // as an adapter of another style might deliver it
			if err := s.reading(ctx, *ev); err != nil {
				return err
			}
		case layer.Message:
			s.status(ctx, ev)
		}
	}
}

// reading is one sensor's last value, as kept in its scope's state.
type reading struct {
	Value float64   `json:"value"`
	At    time.Time `json:"at"`
}

// sensor is the consumer's view of one topic scope.
type sensor struct {
	a       *Alerts
	scope   *core.Scope
	last    *reading // nil: never read, here or before a restart
	topic   string   // of the latest message (the scope's Path in production)
	noStore bool     // the hub runs without a store: remember in memory only
}

// load reads the last reading a previous scope (or process) left, so the
// first reading of this one is compared with it rather than with nothing.
func (s *sensor) load() error {
	var r reading
	ok, err := s.scope.State.Get(lastKey, &r)
	switch {
	case errors.Is(err, core.ErrNoStore):
		s.noStore = true
	case err != nil:
		return fmt.Errorf("alerts: %s: load last reading: %w", s.scope.Key, err)
	case ok:
		s.last = &r
	}
	return nil
}

func (s *sensor) reading(ctx context.Context, m hubmqtt.Message) error {
	v, err := parseReading(m.Payload)
	if err != nil {
		s.a.badPayloads.Add(1)
		s.a.cfg.Logger.Warn("alerts: bad payload skipped", "topic", m.Topic, "err", err, "payload", preview(m.Payload))
		return nil
	}
	s.a.readings.Add(1)
	s.topic = m.Topic
	if err := s.notify(ctx, m.Topic, v); err != nil {
		return err
	}
	// Remembered after the notification: a crash in between sends the alert
	// again on the next reading rather than never.
	s.last = &reading{Value: v, At: time.Now().UTC()}
	if s.noStore {
		return nil
	}
	if err := s.scope.State.Set(lastKey, s.last); err != nil {
		return fmt.Errorf("alerts: %s: remember reading: %w", s.scope.Key, err)
	}
	return nil
}

// notify sends an alert when v crosses the threshold: up from at or below it
// (or from no reading at all), or back down.
func (s *sensor) notify(ctx context.Context, topic string, v float64) error {
	t := s.a.cfg.Threshold
	above := v > t
	wasAbove := s.last != nil && s.last.Value > t
	if above == wasAbove {
		return nil
	}
	device := deviceOf(s.scope, topic)
	kind, text := "alert", fmt.Sprintf("sensor %s: temperature %s above %s", device, num(v), num(t))
	if !above {
		kind, text = "normal", fmt.Sprintf("sensor %s: temperature %s back to normal (threshold %s)", device, num(v), num(t))
	}
	msg := layer.Message{"type": MessageType, "kind": kind, "text": text,
		"device": device, "topic": topic, "value": v, "threshold": t}
	if err := s.send(ctx, msg); err != nil {
		return fmt.Errorf("alerts: %s: notify %s: %w", s.scope.Key, kind, err)
	}
	if above {
		s.a.alerts.Add(1)
	} else {
		s.a.recoveries.Add(1)
	}
	return nil
}

// status answers an alerts.status request if the sensor is above the
// threshold. A reply that cannot be sent (the asker is gone, its channel is
// full) is only logged: it is a courtesy, and the sensor must go on.
func (s *sensor) status(ctx context.Context, req layer.Message) {
	replyTo, _ := req["reply_to"].(string)
	t := s.a.cfg.Threshold
	if req.Type() != StatusType || replyTo == "" || s.last == nil || s.last.Value <= t {
		return
	}
	topic := s.topic
	if topic == "" {
		topic = s.scope.Path
	}
	device := deviceOf(s.scope, topic)
	text := fmt.Sprintf("sensor %s: temperature %s above %s (last reading %s)",
		device, num(s.last.Value), num(t), s.last.At.Format("2006-01-02 15:04:05 UTC"))
	msg := layer.Message{"type": MessageType, "kind": "status", "text": text,
		"device": device, "topic": topic, "value": s.last.Value, "threshold": t}
	if err := s.scope.SendTo(ctx, replyTo, msg); err != nil {
		s.a.cfg.Logger.Warn("alerts: status reply not sent", "scope", s.scope.Key, "err", err)
	}
}

func (s *sensor) send(ctx context.Context, msg layer.Message) error {
	if n := s.a.cfg.Notify; n.Channel != "" {
		return s.scope.SendTo(ctx, n.Channel, msg)
	}
	return s.scope.GroupSend(ctx, s.a.cfg.Notify.Group, msg)
}

// parseReading reads a payload as a temperature: a number as text ("21.5")
// or JSON {"value": 21.5}. Anything else, NaN and infinities included,
// is an error, so one broken sensor cannot raise or clear alerts.
func parseReading(p []byte) (float64, error) {
	if !utf8.Valid(p) {
		return 0, hubmqtt.ErrNotUTF8
	}
	s := strings.TrimSpace(string(p))
	if s == "" {
		return 0, errors.New("empty payload")
	}
	var v float64
	if strings.HasPrefix(s, "{") {
		var r struct {
			Value *float64 `json:"value"`
		}
		if err := json.Unmarshal([]byte(s), &r); err != nil {
			return 0, fmt.Errorf("not a reading: %w", err)
		}
		if r.Value == nil {
			return 0, errors.New(`JSON payload has no "value"`)
		}
		v = *r.Value
	} else {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("not a number: %w", err)
		}
		v = f
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("not a finite number: %v", v)
	}
	return v, nil
}

// deviceOf names the sensor: the {device} route parameter if the route
// captured one, else the levels between the first and the last
// (sensors/<device>/temperature), else the whole topic.
func deviceOf(scope *core.Scope, topic string) string {
	if d := scope.Param("device"); d != "" {
		return d
	}
	levels := strings.Split(topic, "/")
	if len(levels) < 3 {
		return topic
	}
	return strings.Join(levels[1:len(levels)-1], "/")
}

// num prints a number as short as it reads: 31.5, not 31.500000.
func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// preview quotes the start of a bad payload for the log, never all of it.
func preview(p []byte) string {
	const max = 64
	if len(p) > max {
		return strconv.Quote(string(p[:max])) + "…"
	}
	return strconv.Quote(string(p))
}

package alerts_test

import (
	"strings"
	"testing"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/layer"
	hubmqtt "github.com/hubhq/hub/core/mqtt"
	"github.com/hubhq/hub/hubtest"
	"github.com/hubhq/hub/plugins"
	"github.com/hubhq/hub/plugins/alerts"
)

const kitchen = "sensors/kitchen/temperature"

// rig is a hub with the alerts consumer on one sensor's topic scope and
// one chat conversation routed to alerts-notify, as the config wires them.
type rig struct {
	t      *testing.T
	hub    *hubtest.Hub
	alerts *alerts.Alerts
	sensor *hubtest.ChatCommunicator // plays the MQTT adapter for the topic scope
	chat   *hubtest.ChatCommunicator
}

func newRig(t *testing.T) *rig {
	t.Helper()
	a, err := alerts.New(alerts.Config{Threshold: 30})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, hub: hubtest.NewHub(t), alerts: a}
	r.start()
	return r
}

// start opens both scopes; the chat's reply to /alerts proves it has joined
// the group (Connect runs before the first message).
func (r *rig) start() {
	r.t.Helper()
	notify, err := alerts.NewNotify(alerts.DefaultGroup)
	if err != nil {
		r.t.Fatal(err)
	}
	r.chat = r.hub.Chat(core.Named("alerts-notify", notify), hubtest.Key("telegram:home:42"))
	r.chat.Say("/alerts")
	r.chat.Expect(`This chat receives the alerts of group "alerts".`)
	r.sensor = r.hub.Chat(core.Named("alerts", r.alerts), hubtest.Key("mqtt:home:"+kitchen))
}

func (r *rig) publish(payload string) {
	r.t.Helper()
	r.sensor.Deliver(hubmqtt.Message{Topic: kitchen, Payload: []byte(payload), Broker: "home"})
}

func TestAlertsOncePerCrossing(t *testing.T) {
	r := newRig(t)
	for _, p := range []string{"20", "30", "31.5", "35", `{"value": 40}`, "30", "29", "31"} {
		r.publish(p)
	}
	r.chat.Expect(
		"sensor kitchen: temperature 31.5 above 30",
		"sensor kitchen: temperature 30 back to normal (threshold 30)",
		"sensor kitchen: temperature 31 above 30",
	)
	r.chat.ExpectNothing()
	if s := r.alerts.Stats(); s.Readings != 8 || s.Alerts != 2 || s.Recoveries != 1 || s.BadPayloads != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestFirstReadingAboveAlerts(t *testing.T) {
	r := newRig(t)
	r.publish("  42\n")
	r.chat.Expect("sensor kitchen: temperature 42 above 30")
}

func TestRestartDoesNotAlertAgain(t *testing.T) {
	r := newRig(t)
	r.publish("35")
	r.chat.Expect("sensor kitchen: temperature 35 above 30")

	r.hub.Restart()
	r.start()
	r.publish("36") // still above: the state says it already was
	r.publish("25")
	r.chat.Expect("sensor kitchen: temperature 25 back to normal (threshold 30)")
	r.chat.ExpectNothing()
}

func TestLateChatAsksForActiveAlerts(t *testing.T) {
	r := newRig(t)
	r.publish("35")
	r.chat.Expect("sensor kitchen: temperature 35 above 30")

	// A chat whose scope opens after the alert asks with /alerts, and only
	// it gets the answer.
	notify, err := alerts.NewNotify(alerts.DefaultGroup)
	if err != nil {
		t.Fatal(err)
	}
	late := r.hub.Chat(core.Named("alerts-notify", notify), hubtest.Key("telegram:home:43"))
	late.Say("/alerts")
	late.Expect(`This chat receives the alerts of group "alerts".`)
	if got := late.ReceiveSend().Text; !strings.HasPrefix(got, "sensor kitchen: temperature 35 above 30 (last reading ") {
		t.Fatalf("status %q", got)
	}
	r.chat.ExpectNothing()

	// A sensor back to normal has nothing to report.
	r.publish("20")
	r.chat.Expect("sensor kitchen: temperature 20 back to normal (threshold 30)")
	late.Expect("sensor kitchen: temperature 20 back to normal (threshold 30)")
	late.Say("/alerts")
	late.Expect(`This chat receives the alerts of group "alerts".`)
	late.ExpectNothing()
}

func TestBadPayloadsAreCountedNotFatal(t *testing.T) {
	r := newRig(t)
	bad := []string{"", "hot", "{}", `{"value": "31"}`, `{"value": 31`, "NaN", "+Inf", "1e999", "\xff\xfe"}
	for _, p := range bad {
		r.publish(p)
	}
	r.publish("31")
	r.chat.Expect("sensor kitchen: temperature 31 above 30")
	if s := r.alerts.Stats(); s.BadPayloads != int64(len(bad)) || s.Readings != 1 {
		t.Fatalf("stats %+v, want %d bad payloads and 1 reading", s, len(bad))
	}
}

func TestNotifyToChannel(t *testing.T) {
	hub := hubtest.NewHub(t)
	a, err := alerts.New(alerts.Config{Threshold: 0, Notify: alerts.Target{Channel: "alert-mail"}})
	if err != nil {
		t.Fatal(err)
	}
	sensor := hub.Chat(a, hubtest.Key("mqtt:home:sensors/freezer/temperature"))
	sensor.Deliver(hubmqtt.Message{Topic: "sensors/freezer/temperature", Payload: []byte("2")})
	msg, err := hub.Layer.Receive(t.Context(), "alert-mail")
	if err != nil {
		t.Fatal(err)
	}
	want := layer.Message{"type": alerts.MessageType, "kind": "alert", "text": "sensor freezer: temperature 2 above 0",
		"device": "freezer", "topic": "sensors/freezer/temperature", "value": 2.0, "threshold": 0.0}
	for k, v := range want {
		if msg[k] != v {
			t.Errorf("%s = %#v, want %#v", k, msg[k], v)
		}
	}
}

func TestFactories(t *testing.T) {
	for _, tc := range []struct {
		name, consumer string
		opts           plugins.Options
		err            string
	}{
		{"alerts", "alerts", plugins.Options{"threshold": 30, "notify": map[string]any{"group": "alerts"}}, ""},
		{"default group", "alerts", plugins.Options{"threshold": 30.5}, ""},
		{"channel", "alerts", plugins.Options{"threshold": 30, "notify": map[string]any{"channel": "mail"}}, ""},
		{"no threshold", "alerts", plugins.Options{"notify": map[string]any{"group": "alerts"}}, "threshold is required"},
		{"typo", "alerts", plugins.Options{"threshhold": 30}, "threshhold"},
		{"both", "alerts", plugins.Options{"threshold": 1, "notify": map[string]any{"group": "a", "channel": "b"}}, "not both"},
		{"bad group", "alerts", plugins.Options{"threshold": 1, "notify": map[string]any{"group": "no spaces"}}, "invalid name"},
		{"notify", "alerts-notify", nil, ""},
		{"notify group", "alerts-notify", plugins.Options{"group": "ops"}, ""},
		{"notify bad group", "alerts-notify", plugins.Options{"group": "a/b"}, "invalid name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := plugins.New(tc.consumer, tc.opts)
			switch {
			case tc.err == "" && err != nil:
				t.Fatal(err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}

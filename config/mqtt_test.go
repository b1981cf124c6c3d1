package config

import (
	"strings"
	"testing"
	"time"
)

func TestMQTT(t *testing.T) {
	src := `
store: ./data/hub.db
mqtt:
  - name: home
    url: tls://broker.example:8883
    username: hub
    password: "${PW}"
    ca_file: ca.pem
    qos: 0
    clean_session: true
    keep_alive: 10s
    will: {topic: hub/status, payload: offline, qos: 1, retain: true}
  - {name: plain, url: "tcp://127.0.0.1:1883"}
mqtt_broker: 127.0.0.1:0
routes:
  mqtt:
    - {broker: home, topic: "sensors/{device}/temperature", consumer: echo}
    - {broker: local, topic: "#", consumer: echo}
`
	c, err := parse("hub.yaml", []byte(src), env(map[string]string{"PW": "pw"}))
	if err != nil {
		t.Fatal(err)
	}
	home, plain := c.MQTT[0], c.MQTT[1]
	checks := []struct {
		name      string
		got, want any
	}{
		{"qos set to 0", home.SubscribeQoS(), byte(0)},
		{"qos default", plain.SubscribeQoS(), byte(DefaultQoS)},
		{"client id default", plain.ID(), "hub-plain"},
		{"will", home.Will, Will{Topic: "hub/status", Payload: "offline", QoS: 1, Retain: true}},
		{"keep alive", home.KeepAlive, 10 * time.Second},
		{"password", home.Password.Value(), "pw"},
		{"embedded on", c.MQTTBroker.On(), true},
		{"embedded name", c.MQTTBroker.ConnName(), "local"},
		{"embedded data dir", c.BrokerDataDir(), "data/mqtt-broker"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
	if off := Default(); off.MQTTBroker.On() {
		t.Error("the embedded broker is on by default")
	}
}

func TestMQTTBroken(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"bad qos", "mqtt:\n  - name: m\n    url: tcp://h:1\n    qos: 3\n", `hub.yaml:4: mqtt[0].qos: want 0, 1 or 2, got 3`},
		{"cert without key", "mqtt:\n  - {name: m, url: \"tcp://h:1\", cert_file: c.pem}\n", `hub.yaml:2: mqtt[0]: cert_file and key_file go together`},
		{"will without topic", "mqtt:\n  - name: m\n    url: tcp://h:1\n    will: {payload: bye}\n", `hub.yaml:4: mqtt[0].will: topic is required`},
		{"bad topic", "mqtt:\n  - {name: m, url: \"tcp://h:1\"}\nroutes:\n  mqtt:\n    - {broker: m, topic: \"a/#/b\", consumer: echo}\n", `hub.yaml:5: routes.mqtt[0].topic:`},
		{"route to absent embedded", "routes:\n  mqtt:\n    - {broker: local, topic: a, consumer: echo}\n", `routes.mqtt[0].broker: no broker named "local" in mqtt or mqtt_broker`},
		{"embedded bad listen", "mqtt_broker: localhost\n", `hub.yaml:1: mqtt_broker: want host:port`},
		{"embedded without listen", "mqtt_broker:\n  data_dir: x\n", `hub.yaml:1: mqtt_broker: listen is required`},
		{"embedded name clash", "mqtt:\n  - {name: local, url: \"tcp://h:1\"}\nmqtt_broker: {listen: \"127.0.0.1:1883\"}\n", `mqtt_broker: "local" is already used by mqtt[0]`},
		{"embedded user without password", "mqtt_broker:\n  listen: 127.0.0.1:1\n  users: {sensor: \"\"}\n", `hub.yaml:3: mqtt_broker.users: every user needs a name and a password`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("hub.yaml", []byte(tt.src), env(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error\n  %v\nlacks\n  %s", err, tt.want)
			}
		})
	}
}

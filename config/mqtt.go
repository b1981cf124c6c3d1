package config

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Broker is one MQTT broker connection.
//
//	mqtt:
//	  - name: home
//	    url: tls://broker.example:8883
//	    client_id: hub-home
//	    username: hub
//	    password: ${MQTT_PASSWORD}
//	    ca_file: ./ca.pem
//	    qos: 1
//	    will: {topic: hub/status, payload: offline, retain: true}
type Broker struct {
	Name string `yaml:"name"`
	URL  string `yaml:"url"` // tcp://, ssl://, tls://, ws://, wss://, mqtt:// or mqtts://
	// ClientID names the hub's session on the broker (default hub-<name>);
	// two hubs on one broker need different ones.
	ClientID string `yaml:"client_id"`
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	// CAFile verifies the broker; CertFile and KeyFile are the hub's own
	// certificate for mutual TLS. Relative to the config file.
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// CleanSession drops the session on every connect; off, the broker
	// queues QoS 1 and 2 messages while the hub is away.
	CleanSession bool `yaml:"clean_session"`
	// QoS is the maximum QoS of the subscriptions the routes make (default 1).
	QoS *int `yaml:"qos"`
	// KeepAlive is the MQTT keep-alive interval (0: 30s).
	KeepAlive time.Duration `yaml:"keep_alive"`
	// StoreDir keeps in-flight QoS 1 and 2 messages on disk ("": memory).
	StoreDir string `yaml:"store_dir"`
	// Will is published by the broker if the hub vanishes (none without a topic).
	Will Will `yaml:"will"`
}

// Will is an MQTT last-will message.
type Will struct {
	Topic   string `yaml:"topic"`
	Payload string `yaml:"payload"`
	QoS     int    `yaml:"qos"`
	Retain  bool   `yaml:"retain"`
}

// DefaultQoS is the subscription QoS of a broker that does not set qos.
const DefaultQoS = 1

// SubscribeQoS is the QoS the routes of the broker subscribe with.
func (b Broker) SubscribeQoS() byte {
	if b.QoS == nil {
		return DefaultQoS
	}
	return byte(*b.QoS)
}

// ID is the client id: ClientID, or hub-<name>.
func (b Broker) ID() string {
	if b.ClientID != "" {
		return b.ClientID
	}
	return "hub-" + b.Name
}

// EmbeddedBroker is an MQTT broker inside the hub, for devices when no
// mosquitto runs. It is off unless the config gives it, in one line:
//
//	mqtt_broker: 127.0.0.1:1883
//
// or as a mapping:
//
//	mqtt_broker:
//	  listen: 0.0.0.0:1883
//	  users: {sensor: "${SENSOR_PASSWORD}"}
//	  data_dir: ./mqtt-broker
//
// The hub connects to it as to any broker, under Name ("local" by default),
// so routes.mqtt entries name it like the others.
type EmbeddedBroker struct {
	Listen string `yaml:"listen"`
	// Name is the connection name routes use (default "local").
	Name string `yaml:"name"`
	// Users may connect with their password; none means anonymous clients,
	// which is why the example listens on loopback.
	Users map[string]Secret `yaml:"users"`
	// DataDir keeps sessions, retained and queued messages across restarts
	// (default: mqtt-broker beside the store). Relative to the config file.
	DataDir string `yaml:"data_dir"`
}

// DefaultEmbeddedName is the connection name of the embedded broker.
const DefaultEmbeddedName = "local"

func (e *EmbeddedBroker) setScalar(s string) error {
	*e = EmbeddedBroker{Listen: s}
	return nil
}

// On reports whether the config runs the embedded broker.
func (e EmbeddedBroker) On() bool { return e.Listen != "" }

// ConnName is the name routes give the embedded broker's connection.
func (e EmbeddedBroker) ConnName() string {
	if e.Name != "" {
		return e.Name
	}
	return DefaultEmbeddedName
}

// BrokerDataDir is where the embedded broker keeps its state: DataDir, or
// mqtt-broker beside the store.
func (c *Config) BrokerDataDir() string {
	if c.MQTTBroker.DataDir != "" {
		return c.MQTTBroker.DataDir
	}
	return filepath.Join(filepath.Dir(c.Store), "mqtt-broker")
}

// brokerNames are the connection names routes.mqtt may use.
func (c *Config) brokerNames() []string {
	var names []string
	for _, b := range c.MQTT {
		names = append(names, b.Name)
	}
	if c.MQTTBroker.On() {
		names = append(names, c.MQTTBroker.ConnName())
	}
	return names
}

var brokerSchemes = []string{"tcp", "ssl", "tls", "ws", "wss", "mqtt", "mqtts"}

func (v *validator) brokers() {
	names := map[string]int{}
	for i, b := range v.c.MQTT {
		p := fmt.Sprintf("mqtt[%d]", i)
		v.name(p, b.Name, names, i, "mqtt")
		if v.required(p, "url", b.URL) {
			u, err := url.Parse(b.URL)
			if err != nil || u.Host == "" || !slices.Contains(brokerSchemes, u.Scheme) {
				// The URL may hold a password: name the problem, not the value.
				v.errorf(p+".url", "want a broker URL such as tcp://127.0.0.1:1883 (schemes tcp, ssl, tls, ws, wss, mqtt, mqtts)")
			}
		}
		if b.QoS != nil && (*b.QoS < 0 || *b.QoS > 2) {
			v.errorf(p+".qos", "want 0, 1 or 2, got %d", *b.QoS)
		}
		if (b.CertFile == "") != (b.KeyFile == "") {
			v.errorf(p, "cert_file and key_file go together (the hub's certificate and its key)")
		}
		if b.KeepAlive < 0 {
			v.errorf(p+".keep_alive", "must not be negative")
		}
		w := b.Will
		if (w.Payload != "" || w.Retain || w.QoS != 0) && w.Topic == "" {
			v.errorf(p+".will", "topic is required")
		}
		if w.QoS < 0 || w.QoS > 2 {
			v.errorf(p+".will.qos", "want 0, 1 or 2, got %d", w.QoS)
		}
	}
	v.embeddedBroker(names)
}

func (v *validator) embeddedBroker(names map[string]int) {
	e := v.c.MQTTBroker
	if !e.On() {
		if e.Name != "" || len(e.Users) > 0 || e.DataDir != "" {
			v.errorf("mqtt_broker", "listen is required (such as 127.0.0.1:1883) to run the embedded broker")
		}
		return
	}
	host, port, err := net.SplitHostPort(e.Listen)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil || strings.ContainsAny(host, " /") {
		v.errorf(v.keyOr("mqtt_broker.listen", "mqtt_broker"), "want host:port such as 127.0.0.1:1883, got %q", e.Listen)
	}
	if i, dup := names[e.ConnName()]; dup {
		v.errorf(v.keyOr("mqtt_broker.name", "mqtt_broker"), "%q is already used by mqtt[%d]; give the embedded broker another name", e.ConnName(), i)
	}
	if e.Name != "" && strings.ContainsAny(e.Name, ": \t/") {
		v.errorf("mqtt_broker.name", "%q may not contain ':', '/' or spaces", e.Name)
	}
	for u, pw := range e.Users {
		if u == "" || pw.Value() == "" {
			v.errorf("mqtt_broker.users", "every user needs a name and a password")
		}
	}
}

// keyOr is key if the file has it on a line, else fallback (the one-value
// form of a section has no sub-keys).
func (v *validator) keyOr(key, fallback string) string {
	if _, ok := v.c.lines[key]; ok {
		return key
	}
	return fallback
}

package alerts_test

import (
	"testing"

	"github.com/hubhq/hub/config"
	"github.com/hubhq/hub/plugins"
)

// TestExampleConfig keeps examples/alerts/hub.yaml valid: the hub accepts it,
// and both consumers build from the options it gives them.
func TestExampleConfig(t *testing.T) {
	t.Setenv("TELEGRAM_TOKEN", "123456:example-token")
	t.Setenv("MQTT_URL", "") // the default broker
	c, err := config.Load("../../examples/alerts/hub.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Routes.MQTT) != 1 || len(c.Routes.Telegram) != 1 {
		t.Fatalf("routes %+v", c.Routes)
	}
	mq, tg := c.Routes.MQTT[0], c.Routes.Telegram[0]
	if mq.Topic != "sensors/+/temperature" || mq.Consumer != "alerts" || tg.Consumer != "alerts-notify" {
		t.Fatalf("routes %+v, %+v", mq, tg)
	}
	if c.MQTT[0].URL != "tcp://127.0.0.1:1883" {
		t.Errorf("broker url %q", c.MQTT[0].URL)
	}
	for _, r := range []struct {
		name string
		opts map[string]any
	}{{mq.Consumer, mq.Options}, {tg.Consumer, tg.Options}} {
		if _, err := plugins.New(r.name, r.opts); err != nil {
			t.Errorf("%s: %v", r.name, err)
		}
	}
}

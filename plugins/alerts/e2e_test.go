package alerts_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubhq/hub/adapters/mqtt"
	"github.com/hubhq/hub/adapters/telegram"
	"github.com/hubhq/hub/adapters/telegram/telegramtest"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/layer"
	hubmqtt "github.com/hubhq/hub/core/mqtt"
	"github.com/hubhq/hub/internal/poll"
	"github.com/hubhq/hub/internal/servertest"
	"github.com/hubhq/hub/plugins/alerts"
	"github.com/hubhq/hub/store"
)

// TestEndToEnd wires what the hub binary will: a real mosquitto, the MQTT
// adapter routing sensors/+/temperature to "alerts", and the Telegram adapter
// (against the fake Bot API) routing a bot to "alerts-notify", sharing one
// layer and one store. A reading published with mosquitto_pub ends up as a
// message in the Telegram chat.
func TestEndToEnd(t *testing.T) {
	broker := startMosquitto(t)
	db, err := store.Open(filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	mem := layer.NewMemory(layer.Options{})

	// Chat side: a Telegram bot whose chats receive the alerts.
	fake := telegramtest.New(t)
	bot := fake.AddBot("555001:alerts-test-token", "home_alerts_bot")
	notify, err := alerts.NewNotify(alerts.DefaultGroup)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := telegram.New(telegram.Options{
		Bots:        []telegram.BotConfig{{Name: "home", Token: "555001:alerts-test-token", APIURL: fake.URL()}},
		Runtime:     &core.Runtime{App: core.Named("alerts-notify", notify), Store: db, Layer: mem},
		PollTimeout: time.Second,
		Limits:      telegram.Limits{Chat: 100, Group: 100, Burst: 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	run(t, tg.Run)

	// Sensor side: the MQTT adapter and the alerts consumer.
	a, err := alerts.New(alerts.Config{Threshold: 30})
	if err != nil {
		t.Fatal(err)
	}
	router := hubmqtt.TopicRouter{hubmqtt.Topic("sensors/+/temperature", core.Named("alerts", a))}
	mq, err := mqtt.New(mqtt.Options{
		Runtime: &core.Runtime{App: router, Store: db, Layer: mem},
		Brokers: []mqtt.BrokerConfig{{Name: "home", URL: broker.URL(), ClientID: "hub-alerts-test", CleanSession: true,
			Subscriptions: mqtt.SubscriptionsFor(router.Filters(), 1)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	run(t, mq.Run)

	// Someone talks to the bot: the chat's scope opens and joins the group.
	bot.PushMessage(42, "ada", "/alerts")
	bot.WaitSent(t, 42, 1)

	// The adapter subscribes in the background: a reading below the threshold
	// on another sensor shows when readings flow. Each try publishes, which
	// takes a while: 15s, not hubtest.Eventually's second.
	poll.Until(t, 15*time.Second, "the hub reads sensors", func() bool {
		broker.pub(t, "sensors/probe/temperature", "20")
		return a.Stats().Readings > 0
	})

	broker.pub(t, "sensors/kitchen/temperature", "31.5")
	broker.pub(t, "sensors/kitchen/temperature", "not a number")
	broker.pub(t, "sensors/kitchen/temperature", `{"value": 33}`)
	sent := bot.WaitSent(t, 42, 2)
	if got, want := sent[1].Text, "sensor kitchen: temperature 31.5 above 30"; got != want {
		t.Errorf("alert %q, want %q", got, want)
	}

	// A chat that opens now learns about the alert it missed.
	bot.PushMessage(43, "bob", "/alerts")
	sent = bot.WaitSent(t, 43, 2)
	if got, want := sent[1].Text, "sensor kitchen: temperature 33 above 30 (last reading "; !strings.HasPrefix(got, want) {
		t.Errorf("status %q, want it to start with %q", got, want)
	}

	broker.pub(t, "sensors/kitchen/temperature", `{"value": 29}`)
	for _, chat := range []int64{42, 43} {
		sent = bot.WaitSent(t, chat, 3)
		if got, want := sent[2].Text, "sensor kitchen: temperature 29 back to normal (threshold 30)"; got != want {
			t.Errorf("chat %d: %q, want %q", chat, got, want)
		}
	}
	if s := a.Stats(); s.BadPayloads != 1 || s.Alerts != 1 || s.Recoveries != 1 {
		t.Errorf("stats %+v, want 1 bad payload, 1 alert, 1 recovery", s)
	}
}

// run runs an adapter until the test ends and checks that it stopped cleanly.
func run(t *testing.T, fn func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
}

// mosquitto is a real broker of the test's own (package servertest).
type mosquitto struct{ *servertest.Server }

func startMosquitto(t *testing.T) *mosquitto {
	t.Helper()
	servertest.Need(t, servertest.MosquittoPub)
	return &mosquitto{servertest.Start(t, servertest.Mosquitto())}
}

func (m *mosquitto) URL() string { return "tcp://" + m.Addr() }

// pub publishes one message at QoS 1 with mosquitto_pub, as a sensor would.
func (m *mosquitto) pub(t *testing.T, topic, payload string) {
	t.Helper()
	out, err := exec.Command(servertest.MosquittoPub, "-h", "127.0.0.1", "-p", strconv.Itoa(m.Port),
		"-q", "1", "-t", topic, "-m", payload).CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_pub: %v: %s", err, out)
	}
}

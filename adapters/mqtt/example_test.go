package mqtt_test

import (
	"context"
	"log"

	"github.com/hubhq/hub/adapters/mqtt"
	"github.com/hubhq/hub/core"
	hubmqtt "github.com/hubhq/hub/core/mqtt"
)

// A consumer per sensor topic that raises an alert when it gets too hot,
// subscribed to exactly what its router routes.
func Example() {
	temps := core.AppFunc(func(ctx context.Context, s *core.Scope, inbox core.Inbox, send core.SendFunc) error {
		for {
			ev, err := inbox.Next(ctx)
			if err != nil {
				return err
			}
			msg, ok := ev.(hubmqtt.Message)
			if !ok {
				return nil // mqtt.disconnect: the scope is over
			}
			var r struct{ Celsius float64 }
			if err := msg.JSON(&r); err != nil {
				continue // a bad payload is this consumer's business
			}
			if r.Celsius > 30 {
				alert := hubmqtt.Publish{Topic: "alerts/" + s.Param("device"), Payload: []byte("hot"), QoS: 1}
				if err := send(ctx, alert); err != nil {
					return err
				}
			}
		}
	})
	router := hubmqtt.TopicRouter{hubmqtt.Topic("sensors/{device}/temperature", temps)}

	a, err := mqtt.New(mqtt.Options{
		Runtime: &core.Runtime{App: router},
		Brokers: []mqtt.BrokerConfig{{
			Name: "home", URL: "tcp://127.0.0.1:1883", ClientID: "hub-home",
			Will:          &mqtt.Will{Topic: "hub/status", Payload: []byte("offline"), QoS: 1, Retain: true},
			Subscriptions: mqtt.SubscriptionsFor(router.Filters(), 1),
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = a.Run // a.Run(ctx) serves until ctx ends
}

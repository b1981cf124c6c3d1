// Package mqtt is the hub's MQTT adapter: it keeps one client connection per
// configured broker (eclipse/paho.mqtt.golang), turns every topic that
// receives messages into a scope, and publishes what applications send.
//
// One scope is one topic on one broker: type "mqtt", key
// "mqtt:<broker>:<topic>", Path the topic, so an mqtt.TopicRouter (package
// core/mqtt) can route it. The scope opens with the topic's first message
// and closes, with an mqtt.Disconnect event, after IdleTimeout without one.
//
// Ordering and backpressure. Paho calls the message handler from its single
// router goroutine (SetOrderMatters(true)), so messages reach the handler in
// the order the broker sent them. The handler never waits on a consumer: it
// appends the message to its topic's bounded queue and acknowledges it
// (manual acks), and a goroutine per live topic moves the queue into the
// scope instance's inbox under the runtime's inbox policy. Order per topic
// holds because each topic has one queue and one mover; a slow consumer
// fills only its own topic's queue and inbox while other topics flow on.
// Only when a topic's queue is full does the handler wait, which holds the
// whole connection: MQTT has no per-topic flow control, and waiting (rather
// than dropping) is the only choice that loses nothing. Publishes go over a
// second connection per broker (client id "<id>-pub"), so their acks never
// wait behind a held message (see README.md). A message is
// acknowledged only once it is queued, so one the adapter gave up on while
// stopping is redelivered by the broker in the next session. Because a
// queued message is already acknowledged, a scope that ends (an error, a
// panic, an inbox-full close) does not take its unread inbox with it: the
// adapter takes those messages back and gives them to a new scope, in
// order; only the message a scope was handling when it ended is not retried.
//
// Sessions. With CleanSession off (the default) and a fixed client id, the
// broker keeps the subscriptions and queues QoS 1 and 2 messages while the
// hub is away; StoreDir keeps paho's in-flight state on disk so the hub's
// own unacknowledged publishes survive a restart. The client reconnects by
// itself and subscribes again on every connect.
package mqtt

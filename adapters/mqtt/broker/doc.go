// Package broker is an MQTT broker inside the hub process (mochi-mqtt), for
// a hub that should work with devices without anyone running mosquitto.
//
// The adapter connects to it like to any other broker, over loopback TCP,
// so routing, sessions and ordering behave the same with an embedded broker
// as with an external one. With a DataDir the broker keeps sessions,
// subscriptions, retained messages and messages queued for offline
// clients in a bbolt file, so they survive a restart of the hub.
package broker

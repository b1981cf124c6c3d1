// Package alerts raises an alert when a temperature sensor crosses a
// threshold, and delivers it to chat without knowing any chat platform.
//
// Two consumers make the plugin. "alerts" serves MQTT topic scopes such as
// sensors/kitchen/temperature: it reads each payload (a number as text, or
// JSON {"value": n}), and when a sensor goes above the threshold, or comes
// back to it, it sends one layer message ("alerts.notify") to a configured
// group or channel. "alerts-notify" serves chat scopes: it joins that group
// and turns each alerts.notify message into a chat.Send in its conversation.
// The channel layer is the only thing between them, so the sensor side imports
// no chat adapter, and any chat platform (Telegram today, Discord and the
// console later) receives alerts by routing a bot to "alerts-notify".
// A chat scope is open only while its conversation is active, so /alerts in a
// chat also asks the live sensor scopes (group "<group>.sensors") to report
// the alerts that are active now.
//
// The last reading of each sensor is kept in its scope's state, so a hub that
// restarts while a sensor is already above the threshold does not alert again:
// an alert is sent once per crossing, not once per reading or per process.
package alerts

// Package mqtt defines the events of the "mqtt" protocol and the TopicRouter.
//
// One scope is one topic on one broker connection (key "mqtt:<broker>:<topic>",
// Path = the topic). The adapter puts each received PUBLISH in the scope's
// inbox as a [Message], in the order the broker sent them, and ends the
// scope with a [Disconnect] after it has been idle. An application publishes
// by sending a [Publish] action.
//
// [TopicRouter] is to topics what core.URLRouter is to paths: an Application
// that picks another by pattern, with MQTT's + and # wildcards and named
// captures such as sensors/{device}/temperature. Because the patterns say
// which topics the application wants, the router also derives the MQTT
// subscription filters from them ([TopicRouter.Filters]).
package mqtt

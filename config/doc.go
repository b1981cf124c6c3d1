// Package config reads the hub's YAML configuration file.
//
// A config file is decoded node by node (not with yaml.Unmarshal) so that
// every mistake can be reported where it is: each error reads
//
//	hub.yaml:7: routes.websocket[0].consumer: unknown consumer "chatrom" (known: chatroom, echo)
//
// Unknown keys are errors, because a silently ignored typo ("inbox: {polcy:
// close}") is worse than a refusal to start. Scalar values may use ${VAR}
// and ${VAR:-default}; an unset variable without a default is an error, so a
// missing secret never turns into an empty token. Keys left out keep the
// embedded defaults (default.yaml), except routes: a file that says routes
// says all of them.
//
// A section may have a one-value form besides its mapping ("layer:
// redis://…", "mqtt_broker: 127.0.0.1:1883"); a file that gives such a
// section replaces its default whole.
package config

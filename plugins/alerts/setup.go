package alerts

import (
	"errors"
	"fmt"

	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/plugins"
)

// The hub finds the two consumers by these names in its config:
// routes.mqtt → "alerts", routes.telegram (or any chat) → "alerts-notify".
func init() {
	plugins.RegisterFactory("alerts", newAlerts)
	plugins.RegisterFactory("alerts-notify", newNotify)
}

// newAlerts reads {threshold: 30, notify: {group: alerts}}.
func newAlerts(opts plugins.Options) (core.Application, error) {
	var o struct {
		Threshold *float64 `json:"threshold"`
		Notify    Target   `json:"notify"`
	}
	if err := opts.Decode(&o); err != nil {
		return nil, fmt.Errorf("alerts: options: %w", err)
	}
	if o.Threshold == nil {
		return nil, errors.New("alerts: options: threshold is required")
	}
	return New(Config{Threshold: *o.Threshold, Notify: o.Notify})
}

// newNotify reads {group: alerts}; the group defaults to DefaultGroup.
func newNotify(opts plugins.Options) (core.Application, error) {
	var o struct {
		Group string `json:"group"`
	}
	if err := opts.Decode(&o); err != nil {
		return nil, fmt.Errorf("alerts-notify: options: %w", err)
	}
	if o.Group == "" {
		o.Group = DefaultGroup
	}
	return NewNotify(o.Group)
}

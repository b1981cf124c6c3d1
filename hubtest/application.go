package hubtest

import (
	"testing"

	"github.com/hubhq/hub/core"
)

// ApplicationCommunicator drives any application through raw events
// (Channels' ApplicationCommunicator): for protocols without a communicator
// of their own — MQTT, workers, one you wrote — or to test a router or
// middleware on its own terms.
type ApplicationCommunicator struct{ *session }

// Application starts app for scope, with a Hub of its own. The scope needs
// at least a Type and a Key; the runtime fills in its channel and state.
func Application(t testing.TB, app core.Application, scope *core.Scope, opts ...Option) *ApplicationCommunicator {
	t.Helper()
	return NewHub(t, opts...).Application(app, scope)
}

// Application starts app for scope on this hub. When the test ends, the
// application is stopped by cancelling its context: give it its protocol's
// last event first if it should end on its own.
func (h *Hub) Application(app core.Application, scope *core.Scope, opts ...Option) *ApplicationCommunicator {
	h.t.Helper()
	o := apply(h.opts, opts)
	if scope.Key == "" {
		h.t.Fatalf("hubtest: Application needs a scope with a Key")
	}
	c := &ApplicationCommunicator{newSession(h, o, scope, scope.Key)}
	c.start(app, o)
	return c
}

// SendInput gives the application one event, waiting for room in its inbox
// (Channels' send_input).
func (c *ApplicationCommunicator) SendInput(ev core.Event) {
	c.t.Helper()
	c.mustDeliver(ev)
}

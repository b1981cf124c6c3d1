package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"

	"github.com/hubhq/hub/config"
)

// unit is one adapter the server runs on its own: one bot, one MQTT broker
// connection. Each has its own adapter so that a reload can start, stop or
// restart it and leave the others, and their open scopes, alone.
type unit struct {
	name string // "telegram adapter of bot support", in logs and errors
	// spec is what the unit was made from, secrets included (never
	// printed): a reload keeps a running unit whose spec is unchanged.
	spec any
	run  func(context.Context) error
	// hook serves a Telegram bot's webhook at hookPath; nil in polling mode.
	hookPath string
	hook     http.Handler

	stop context.CancelFunc
	done chan error // Run's error, once it has returned
}

// start runs the unit until halt. If it stops on its own (a bot token the
// platform refuses), onFail gets the reason.
func (u *unit) start(onFail func(error)) {
	ctx, cancel := context.WithCancel(context.Background())
	u.stop, u.done = cancel, make(chan error, 1)
	go func() {
		err := u.run(ctx)
		switch {
		case ctx.Err() == nil:
			onFail(fmt.Errorf("server: %s stopped: %w", u.name, orStopped(err)))
			err = nil
		case errors.Is(err, context.Canceled):
			err = nil
		case err != nil:
			err = fmt.Errorf("server: %s: %w", u.name, err)
		}
		u.done <- err
	}()
}

// haltAll ends the units, all at once, and waits for them.
func haltAll(us []*unit) error {
	for _, u := range us {
		u.stop()
	}
	var errs []error
	for _, u := range us {
		errs = append(errs, <-u.done)
	}
	return errors.Join(errs...)
}

func orStopped(err error) error {
	if err == nil {
		return errors.New("returned early")
	}
	return err
}

// units are the adapters a config asks for, by a key that names the bot or
// broker ("telegram:support", "mqtt:home").
type units map[string]*unit

// newUnits makes (without running them) the adapters of cfg's bots that
// have a route and of its MQTT brokers.
func (s *Server) newUnits(cfg *config.Config, r *routing) (units, error) {
	us := units{}
	if err := s.chatUnits(cfg, r, us); err != nil {
		return nil, err
	}
	if err := s.mqttUnits(cfg, r, us); err != nil {
		return nil, err
	}
	return us, nil
}

// change is what a reload does to the units: keep the unchanged ones
// running, stop the removed and changed ones, start the added and changed.
type change struct {
	next                        units // the units after the reload
	stop, start                 []*unit
	stopped, started, restarted []string // keys, for the log
}

// diff compares the running units with those a new config asks for.
func diff(running, wanted units) change {
	c := change{next: units{}}
	for _, k := range slices.Sorted(maps.Keys(wanted)) {
		w, old := wanted[k], running[k]
		switch {
		case old == nil:
			c.start = append(c.start, w)
			c.started = append(c.started, k)
		case reflect.DeepEqual(old.spec, w.spec):
			c.next[k] = old
			continue
		default:
			c.stop = append(c.stop, old)
			c.start = append(c.start, w)
			c.restarted = append(c.restarted, k)
		}
		c.next[k] = w
	}
	for _, k := range slices.Sorted(maps.Keys(running)) {
		if wanted[k] == nil {
			c.stop = append(c.stop, running[k])
			c.stopped = append(c.stopped, k)
		}
	}
	return c
}

package relay

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hubhq/hub/adapters/ratelimit"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
	"github.com/hubhq/hub/core/layer"
)

// Defaults for Config.
const (
	DefaultPending = 64
	DefaultGrace   = 5 * time.Second
)

// Backoff after a failed Receive: the first wait, doubled up to maxBackoff.
const (
	backoff    = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Config is what an adapter tells Run about one bot; T is the adapter's
// conversation target.
type Config[T any] struct {
	Layer    layer.Layer
	Platform string // "telegram"
	Bot      string // the bot's name: actions go to ActionChannel(Platform, Bot)
	// Parse reads a conversation from the part of a scope key after
	// "<platform>:<bot>:" ("42:7" of "telegram:support:42:7").
	Parse func(conversation string) (T, error)
	// Perform takes an action in a conversation by the path its scope's
	// actions take, and returns once it is done (or durably queued).
	Perform func(ctx context.Context, scopeKey string, t T, action core.Event) error
	// Perform links a chat.Send with a HubID itself (see Link).
	Log *slog.Logger
	// Pending bounds the actions taken off the channel and not yet done:
	// beyond it Run stops receiving, so a slow platform fills the channel
	// and senders get layer.ErrChannelFull instead of the hub's memory
	// growing. 0 is DefaultPending.
	Pending int
	// Grace is how long actions already received may take to finish once
	// ctx ends; then they are cancelled. 0 is DefaultGrace.
	Grace time.Duration
}

// Run receives a bot's action messages until ctx ends and performs each
// in its conversation. A conversation's actions are performed in the
// order they arrived, one at a time (an edit never overtakes the message
// it edits); conversations proceed in parallel, so one chat held by its
// rate limit does not hold the others. A message that is not an action
// for this bot is logged and dropped; a failing layer is retried with
// backoff.
func Run[T any](ctx context.Context, cfg Config[T]) {
	if cfg.Pending <= 0 {
		cfg.Pending = DefaultPending
	}
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	log := cfg.Log.With("bot", cfg.Bot)
	channel := chat.ActionChannel(cfg.Platform, cfg.Bot)
	if err := layer.ValidChannelName(channel); err != nil {
		log.Warn("the bot's name cannot name a layer channel: it takes no actions from outside its conversations", "err", err)
		return
	}
	// Actions received run on past ctx for the grace, so what a sender was
	// told was taken is not lost to an ordinary shutdown.
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	context.AfterFunc(ctx, func() { time.AfterFunc(cfg.Grace, cancel) })
	r := &runner[T]{cfg: cfg, log: log, slots: make(chan struct{}, cfg.Pending), lanes: make(map[string][]func())}
	defer r.wg.Wait()

	log.Debug("taking actions from the layer", "channel", channel)
	wait := backoff
	for {
		m, err := cfg.Layer.Receive(ctx, channel)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("could not receive actions; retrying", "channel", channel, "in", wait, "err", err)
			if ratelimit.Sleep(ctx, wait) != nil {
				return
			}
			wait = min(2*wait, maxBackoff)
			continue
		}
		wait = backoff
		if err := r.take(work, m); err != nil {
			return // the grace ran out waiting for room
		}
	}
}

// runner performs one bot's actions: a lane per conversation, in order.
type runner[T any] struct {
	cfg   Config[T]
	log   *slog.Logger
	slots chan struct{} // one per action received and not yet done

	mu    sync.Mutex
	lanes map[string][]func() // actions waiting, by scope key; present while the lane runs
	wg    sync.WaitGroup      // one per running lane
}

// take reads an action message and queues it in its conversation's lane.
// It waits for a free slot, and fails only when ctx ends meanwhile.
func (r *runner[T]) take(ctx context.Context, m layer.Message) error {
	key, action, err := chat.ParseActionMessage(m)
	if err != nil {
		r.log.Warn("action message dropped", "type", m.Type(), "err", err)
		return nil
	}
	conv, ok := strings.CutPrefix(key, r.cfg.Platform+":"+r.cfg.Bot+":")
	if !ok {
		r.log.Warn("action message dropped: the scope is not one of this bot's", "scope", key, "type", action.Type())
		return nil
	}
	t, err := r.cfg.Parse(conv)
	if err != nil {
		r.log.Warn("action message dropped: bad scope key", "scope", key, "type", action.Type(), "err", err)
		return nil
	}
	select {
	case r.slots <- struct{}{}:
	case <-ctx.Done():
		r.log.Warn("action message dropped: shutting down", "scope", key, "type", action.Type())
		return ctx.Err()
	}
	r.queue(key, func() {
		defer func() { <-r.slots }()
		if err := r.cfg.Perform(ctx, key, t, action); err != nil {
			r.log.Warn("action from the layer failed", "scope", key, "type", action.Type(), "err", err)
		}
	})
	return nil
}

// queue adds an action to its lane, starting the lane if it is idle.
func (r *runner[T]) queue(key string, do func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	waiting, running := r.lanes[key]
	r.lanes[key] = append(waiting, do)
	if !running {
		r.wg.Go(func() { r.run(key) })
	}
}

// run performs a lane's actions until it is empty.
func (r *runner[T]) run(key string) {
	for {
		r.mu.Lock()
		waiting := r.lanes[key]
		if len(waiting) == 0 {
			delete(r.lanes, key)
			r.mu.Unlock()
			return
		}
		r.lanes[key] = waiting[1:]
		r.mu.Unlock()
		waiting[0]()
	}
}

package discord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"

	"github.com/hubhq/hub/adapters/chatscope"
	"github.com/hubhq/hub/adapters/outbox"
	"github.com/hubhq/hub/adapters/ratelimit"
	"github.com/hubhq/hub/adapters/relay"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

// DefaultIdleTimeout is Options.IdleTimeout's default.
const DefaultIdleTimeout = 10 * time.Minute

// DefaultIntents are the gateway intents a bot identifies with unless its
// BotConfig says otherwise: messages and reactions in guild channels and
// DMs, and message content (a privileged intent, to be enabled for the bot
// in Discord's developer portal).
const DefaultIntents = discordgo.IntentsGuildMessages | discordgo.IntentsDirectMessages |
	discordgo.IntentsMessageContent | discordgo.IntentsGuildMessageReactions | discordgo.IntentsDirectMessageReactions

// requestTimeout bounds one REST call.
const requestTimeout = 20 * time.Second

// stopGrace is how long a closing scope's application has to return after
// its chat.Disconnect before it is cancelled.
const stopGrace = 5 * time.Second

// queueSize is how many gateway events of a bot may wait for their scopes;
// beyond it the gateway reader waits too.
const queueSize = 1024

// BotConfig is one bot.
type BotConfig struct {
	// Name names the bot in scope keys and config ("support").
	Name  string
	Token Token
	// APIURL stands for https://discord.com: REST calls and gateway
	// discovery go there ("http://127.0.0.1:8080" for a fake); "" is
	// Discord itself.
	APIURL string
	// Intents are the gateway intents; 0 is DefaultIntents.
	Intents discordgo.Intent
}

// Options configure an Adapter.
type Options struct {
	Bots []BotConfig
	// Runtime runs an instance of its application per conversation. With a
	// Layer, each bot also takes actions for any of its conversations from
	// the channel chat.ActionChannel(Platform, name) (see package relay);
	// with a Store that keeps the message map (the store), a chat.Send with
	// a HubID is linked there once sent.
	Runtime *core.Runtime
	// IdleTimeout closes a conversation's scope after this long without an
	// event; 0 is DefaultIdleTimeout.
	IdleTimeout time.Duration
	Limits      Limits
	// Outbox, if set (the store), makes every REST call durable: written
	// to the outbox before it is made and made from there, in order per
	// channel, so that a restart makes the calls a crash left over — and,
	// with the attempt journal, none that had reached Discord. Actions are
	// keyed by the event being handled, so an event delivered twice makes
	// its calls once. See README.md.
	Outbox outbox.Store
	Logger *slog.Logger // nil: slog.Default()
}

// Adapter connects Discord bots to the hub.
type Adapter struct {
	opts Options
	log  *slog.Logger
	bots map[string]*botRunner
	// links is the message map HubIDs are linked in; nil: not linked.
	links  relay.Links
	rt     *core.Runtime // opts.Runtime, its application wrapped in track when there is an Outbox
	outbox outbox.Store

	trackers sync.Map // *core.Scope → *outbox.Tracker, while the scope lives

	scopes *chatscope.Table[conversation] // let in while Run runs
}

// botRunner is one bot: its discordgo session, its limits and its user.
type botRunner struct {
	cfg    BotConfig
	s      *discordgo.Session
	limit  *ratelimit.Limiter[string]
	log    *slog.Logger
	events chan any // gateway events, in the order they arrived

	userID, username string      // set by Run from GET /users/@me
	closed           atomic.Bool // set when Run ends: no more gateway connections

	relayed reactions // set through the action channel, outside any scope
	out     *courier  // makes the outbox's calls, with an Outbox; set by Run

	mu       sync.Mutex
	channels map[string]channelInfo // guild channels seen, by id
}

// New checks the options and makes an Adapter; Run starts it.
func New(opts Options) (*Adapter, error) {
	if opts.Runtime == nil {
		return nil, errors.New("discord: no runtime")
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	a := &Adapter{opts: opts, log: opts.Logger, bots: make(map[string]*botRunner), rt: opts.Runtime, outbox: opts.Outbox}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.outbox != nil {
		rt := *opts.Runtime
		rt.App = a.track(rt.App)
		a.rt = &rt
	}
	a.log = a.log.With("adapter", Platform)
	a.links = relay.LinksIn(opts.Runtime.Store, opts.Outbox)
	a.scopes = a.newScopes()
	for _, cfg := range opts.Bots {
		b, err := a.newBot(cfg)
		if err != nil {
			return nil, err
		}
		a.bots[cfg.Name] = b
	}
	return a, nil
}

// newBot makes a bot's session. Everything it uses is its own — HTTP client
// and connection pool, WebSocket dialer, rate-limit buckets, state — so
// bots on different servers run side by side in one process.
func (a *Adapter) newBot(cfg BotConfig) (*botRunner, error) {
	switch {
	case cfg.Name == "":
		return nil, errors.New("discord: a bot has no name")
	case a.bots[cfg.Name] != nil:
		return nil, fmt.Errorf("discord: two bots are named %q", cfg.Name)
	case cfg.Token == "":
		return nil, fmt.Errorf("discord: bot %q has no token", cfg.Name)
	}
	if cfg.Intents == 0 {
		cfg.Intents = DefaultIntents
	}
	rt, err := transport(cfg.APIURL)
	if err != nil {
		return nil, fmt.Errorf("discord: bot %q: %w", cfg.Name, err)
	}
	s, err := discordgo.New("Bot " + string(cfg.Token))
	if err != nil {
		return nil, fmt.Errorf("discord: bot %q: %w", cfg.Name, chat.Redact(err, cfg.Token))
	}
	b := &botRunner{
		cfg:      cfg,
		s:        s,
		limit:    newLimiter(a.opts.Limits),
		log:      a.log.With("bot", cfg.Name),
		events:   make(chan any, queueSize),
		channels: make(map[string]channelInfo),
	}
	s.Client = &http.Client{Timeout: requestTimeout, Transport: rt}
	s.Dialer = &websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: 45 * time.Second, NetDialContext: b.dial}
	s.Identify.Intents = cfg.Intents
	s.Compress = false               // plain JSON frames
	s.SyncEvents = true              // handlers run in the gateway reader, in order
	s.ShouldRetryOnRateLimit = false // the limiter retries, keeping the channel held meanwhile
	s.LogLevel = discordgo.LogError  // its debug level would print the IDENTIFY payload, token included
	return b, nil
}

// errClosed refuses gateway connections once Run has ended.
var errClosed = errors.New("discord: adapter stopped")

// dial connects to the gateway, unless the adapter stopped: discordgo's
// reconnect loop cannot be cancelled, and a reconnection it was attempting
// when Run ended must not bring the bot back online.
func (b *botRunner) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if b.closed.Load() {
		return nil, errClosed
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// Run checks every bot's token (GET /users/@me), connects each to the
// gateway and hands events to their scopes until ctx ends; then it
// disconnects and closes every open scope (each gets a chat.Disconnect with
// reason "shutdown") and returns. Heartbeats, reconnection and RESUME after
// a dropped connection are discordgo's.
func (a *Adapter) Run(ctx context.Context) error {
	for _, b := range a.bots {
		me, err := b.s.User("@me", discordgo.WithContext(ctx))
		if ctx.Err() != nil {
			return nil // stopped while starting: not a failure
		}
		if err != nil {
			return fmt.Errorf("discord: bot %q: get current user: %w", b.cfg.Name, chat.Redact(err, b.cfg.Token))
		}
		b.userID, b.username = me.ID, me.Username
	}
	scopeCtx, cancelScopes := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelScopes()
	if !a.scopes.Begin(scopeCtx) {
		return errors.New("discord: adapter already running")
	}
	// Couriers outlive the scopes, whose last words (a farewell on
	// shutdown) still go out.
	stopSending, err := a.startSending(ctx)
	defer stopSending()
	if err != nil {
		a.shutdown()
		return err
	}

	// runCtx ends the bots' loops once their gateways are closed (or one
	// failed to open), so the events already queued are handed over first:
	// Discord will not send them again.
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var workers sync.WaitGroup
	defer func() {
		a.disconnect()
		stop()
		workers.Wait()
		a.shutdown()
	}()
	for _, b := range a.bots {
		b.listen(runCtx)
		workers.Go(func() { a.consume(runCtx, b) })
		if err := b.s.Open(); err != nil {
			return fmt.Errorf("discord: bot %q: connect to the gateway: %w", b.cfg.Name, chat.Redact(err, b.cfg.Token))
		}
		if a.opts.Runtime.Layer != nil {
			workers.Go(func() { a.relayActions(runCtx, b) })
		}
		a.log.Info("bot connected", "bot", b.cfg.Name, "username", b.username)
	}
	<-ctx.Done()
	return nil
}

// listen registers the handlers that queue a bot's gateway events. They
// run in discordgo's reader goroutine (SyncEvents), so the queue keeps
// Discord's order; they stop queueing when ctx ends.
func (b *botRunner) listen(ctx context.Context) {
	queue := func(ev any) {
		select {
		case b.events <- ev:
		case <-ctx.Done():
			b.log.Warn("gateway event dropped: the adapter stopped", "event", fmt.Sprintf("%T", ev))
		}
	}
	b.s.AddHandler(func(_ *discordgo.Session, e *discordgo.MessageCreate) { queue(e) })
	b.s.AddHandler(func(_ *discordgo.Session, e *discordgo.MessageUpdate) { queue(e) })
	b.s.AddHandler(func(_ *discordgo.Session, e *discordgo.MessageDelete) { queue(e) })
	b.s.AddHandler(func(_ *discordgo.Session, e *discordgo.MessageReactionAdd) { queue(e) })
	b.s.AddHandler(func(_ *discordgo.Session, e *discordgo.MessageReactionRemove) { queue(e) })
	b.s.AddHandler(func(_ *discordgo.Session, e *discordgo.InteractionCreate) { queue(e) })
	b.s.AddHandler(func(_ *discordgo.Session, e *discordgo.Ready) {
		b.log.Info("gateway session started", "session", e.SessionID)
	})
	b.s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Resumed) { b.log.Info("gateway session resumed") })
	b.s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Disconnect) { b.log.Info("gateway disconnected") })
	// Runs after the typed handlers: an event logged here is queued.
	b.s.AddHandler(func(_ *discordgo.Session, e *discordgo.Event) {
		b.log.Debug("gateway event", "type", e.Type, "seq", e.Sequence)
	})
}

// consume hands a bot's events to their scopes, one at a time, so each
// conversation gets them in order. When ctx ends (the gateway is closed by
// then) it hands over what is still queued and returns; deliveries, the
// one under way included, get stopGrace more to find room in an inbox.
func (a *Adapter) consume(ctx context.Context, b *botRunner) {
	deliver, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel() // also ends the grace goroutine below
	unwatch := context.AfterFunc(ctx, func() {
		t := time.NewTimer(stopGrace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-deliver.Done():
		}
	})
	defer unwatch()
	for {
		select {
		case raw := <-b.events:
			a.handle(deliver, b, raw)
		case <-ctx.Done():
			for {
				select {
				case raw := <-b.events:
					a.handle(deliver, b, raw)
				default:
					return
				}
			}
		}
	}
}

// handle delivers one gateway event to its scope.
func (a *Adapter) handle(ctx context.Context, b *botRunner, raw any) {
	ev, t, ok := b.event(ctx, raw)
	if !ok {
		return
	}
	if err := a.dispatch(ctx, b, t, ev); err != nil {
		b.log.Warn("event not delivered", "scope", t.key(b.cfg.Name), "event", ev.Type(), "err", err)
	}
}

// disconnect closes every bot's gateway connection, in parallel: discordgo
// waits a second for each close.
func (a *Adapter) disconnect() {
	var wg sync.WaitGroup
	for _, b := range a.bots {
		wg.Go(func() {
			b.closed.Store(true)
			if err := b.s.Close(); err != nil {
				b.log.Debug("gateway close", "err", chat.Redact(err, b.cfg.Token))
			}
		})
	}
	wg.Wait()
}

// shutdown stops accepting events and closes every open scope.
func (a *Adapter) shutdown() {
	a.scopes.Shutdown()
}

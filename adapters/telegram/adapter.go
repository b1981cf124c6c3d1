package telegram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-telegram/bot"

	"github.com/hubhq/hub/adapters/chatscope"
	"github.com/hubhq/hub/adapters/outbox"
	"github.com/hubhq/hub/adapters/ratelimit"
	"github.com/hubhq/hub/adapters/relay"
	"github.com/hubhq/hub/core"
	"github.com/hubhq/hub/core/chat"
)

// Modes a bot receives its updates in.
const (
	Polling = "polling" // getUpdates long polling, the default
	Webhook = "webhook" // Telegram posts to Adapter.Webhook(name)
)

// Defaults for Options.
const (
	DefaultIdleTimeout = 10 * time.Minute
	DefaultPollTimeout = time.Minute
)

// sendTimeout bounds one Bot API call other than getUpdates.
const sendTimeout = 30 * time.Second

// stopGrace is how long a closing scope's application has to return after
// its chat.Disconnect before it is cancelled.
const stopGrace = 5 * time.Second

// BotConfig is one bot.
type BotConfig struct {
	// Name names the bot in scope keys and config ("support").
	Name  string
	Token Token
	// APIURL is the Bot API server; "" is https://api.telegram.org.
	APIURL string
	// Mode is Polling ("" too) or Webhook.
	Mode string
	// WebhookURL, if set, is registered with Telegram (setWebhook) when Run
	// starts: the public HTTPS URL where Adapter.Webhook(Name) is mounted.
	WebhookURL string
	// WebhookSecret, if set, must match each webhook request's
	// X-Telegram-Bot-Api-Secret-Token header; Run gives it to setWebhook.
	WebhookSecret Token
}

// Options configure an Adapter.
type Options struct {
	Bots []BotConfig
	// Runtime runs an instance of its application per chat. With a Layer,
	// each bot also takes actions for any of its chats from the channel
	// chat.ActionChannel(Platform, name) (see package relay); with a Store
	// that keeps the message map (the store), a chat.Send with a HubID is
	// linked there once sent.
	Runtime *core.Runtime
	// IdleTimeout closes a chat's scope after this long without an update;
	// 0 is DefaultIdleTimeout.
	IdleTimeout time.Duration
	// PollTimeout is the long-polling wait of getUpdates; 0 is
	// DefaultPollTimeout.
	PollTimeout time.Duration
	Limits      Limits
	// Checkpoints, if set, remember each polling bot's update offset, so a
	// restarted hub does not hand over again updates it had handed over
	// before it stopped. The store implements it.
	Checkpoints Checkpoints
	// Outbox, if set (the store), makes the adapter crash-safe: updates are
	// journaled before Telegram is told it may forget them, every action is
	// written to the outbox before its call is made, and a restart makes
	// the calls and handles the updates a crash left over. It also serves
	// as Checkpoints when those are not set. See README.md for the exact
	// guarantee.
	Outbox Outbox
	Logger *slog.Logger // nil: slog.Default()
}

// Adapter connects bots to the hub.
type Adapter struct {
	opts   Options
	log    *slog.Logger
	bots   map[string]*botRunner
	rt     *core.Runtime // opts.Runtime, its application wrapped in track when there is an Outbox
	outbox Outbox
	links  relay.Links // nil: HubIDs are not linked

	trackers sync.Map // *core.Scope → *tracker, while the scope lives

	scopes *chatscope.Table[conversation] // let in while Run runs
}

// botRunner is one bot: its client, its limits and its name on Telegram.
type botRunner struct {
	cfg      BotConfig
	api      *bot.Bot     // sends
	poll     *http.Client // receives, in polling mode
	limit    *ratelimit.Limiter[chatKey]
	username string   // set by Run from getMe
	id       int64    // the bot's Telegram id, set by Run from getMe
	out      *courier // makes the outbox's calls, with an Outbox; set by Run
}

// New checks the options and makes an Adapter; Run starts it.
func New(opts Options) (*Adapter, error) {
	if opts.Runtime == nil {
		return nil, errors.New("telegram: no runtime")
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.PollTimeout <= 0 {
		opts.PollTimeout = DefaultPollTimeout
	}
	a := &Adapter{opts: opts, log: opts.Logger, bots: make(map[string]*botRunner), rt: opts.Runtime, outbox: opts.Outbox}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.outbox != nil {
		rt := *opts.Runtime
		rt.App = a.track(rt.App)
		a.rt = &rt
		if a.opts.Checkpoints == nil {
			a.opts.Checkpoints = a.outbox
		}
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

func (a *Adapter) newBot(cfg BotConfig) (*botRunner, error) {
	switch {
	case cfg.Name == "":
		return nil, errors.New("telegram: a bot has no name")
	case strings.ContainsAny(cfg.Name, ": \t\n/"): // it is part of scope keys
		return nil, fmt.Errorf("telegram: bot name %q may not contain ':', '/' or spaces", cfg.Name)
	case a.bots[cfg.Name] != nil:
		return nil, fmt.Errorf("telegram: two bots are named %q", cfg.Name)
	case cfg.Token == "":
		return nil, fmt.Errorf("telegram: bot %q has no token", cfg.Name)
	case cfg.Mode == "":
		cfg.Mode = Polling
	case cfg.Mode != Polling && cfg.Mode != Webhook:
		return nil, fmt.Errorf("telegram: bot %q: unknown mode %q (want polling or webhook)", cfg.Name, cfg.Mode)
	}
	if cfg.APIURL == "" {
		cfg.APIURL = "https://api.telegram.org"
	}
	b := &botRunner{
		cfg:   cfg,
		limit: newLimiter(a.opts.Limits),
		poll:  &http.Client{Timeout: a.opts.PollTimeout + 10*time.Second},
	}
	log := a.log.With("bot", cfg.Name)
	// The client sends; updates are received by poll (or Webhook), which
	// confirm them only once they are handed to their scopes.
	opts := []bot.Option{
		bot.WithSkipGetMe(), // Run calls it, with a context and a clean error
		bot.WithServerURL(cfg.APIURL),
		bot.WithErrorsHandler(func(err error) { log.Warn("telegram client error", "err", chat.Redact(err, cfg.Token)) }),
		bot.WithHTTPClient(sendTimeout, &http.Client{Timeout: sendTimeout, Transport: outbox.Transport(sendTransport())}),
	}
	api, err := bot.New(string(cfg.Token), opts...)
	if err != nil {
		return nil, fmt.Errorf("telegram: bot %q: %w", cfg.Name, chat.Redact(err, cfg.Token))
	}
	b.api = api
	return b, nil
}

// sendTransport keeps connections to the Bot API open for every chat that
// sends at once: the default keeps two idle per host, so a burst to many
// chats would dial (and leave in TIME_WAIT) a connection per call.
func sendTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0 // no limit but per host
	t.MaxIdleConnsPerHost = 256
	return t
}

// Run checks every bot's token (getMe), registers webhooks that have a
// WebhookURL (setWebhook) and starts polling the other bots (removing a
// webhook left over from a webhook setup, which would block polling); then
// it receives updates until ctx ends, closes every open scope (each gets a
// chat.Disconnect with reason "shutdown") and returns.
func (a *Adapter) Run(ctx context.Context) error {
	for _, b := range a.bots {
		me, err := b.api.GetMe(ctx)
		if ctx.Err() != nil {
			return nil // stopped while starting: not a failure
		}
		if err != nil {
			return fmt.Errorf("telegram: bot %q: getMe: %w", b.cfg.Name, chat.Redact(err, b.cfg.Token))
		}
		b.username, b.id = me.Username, me.ID
	}
	scopeCtx, cancelScopes := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelScopes()
	if !a.scopes.Begin(scopeCtx) {
		return errors.New("telegram: adapter already running")
	}
	// Senders outlive the scopes, whose last words (a farewell on
	// shutdown) still go out.
	stopSending, err := a.startSending(ctx)
	defer stopSending()
	if err != nil {
		a.shutdown()
		return err
	}
	defer a.shutdown()

	ctx, stop := context.WithCancel(ctx)
	var polls, relays sync.WaitGroup // relays end before the senders stop
	defer polls.Wait()
	defer relays.Wait()
	defer stop() // a failing bot stops the others
	for _, b := range a.bots {
		if err := a.receive(ctx, b, &polls); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("telegram: bot %q: %w", b.cfg.Name, chat.Redact(err, b.cfg.Token))
		}
		if a.rt.Layer != nil {
			relays.Go(func() { a.relayActions(ctx, b) })
		}
		a.log.Info("bot started", "bot", b.cfg.Name, "username", b.username, "mode", b.cfg.Mode)
	}
	<-ctx.Done()
	return nil
}

// startSending starts each bot's outbox sender with the calls a crash left
// unsent, and returns what stops them.
func (a *Adapter) startSending(ctx context.Context) (stop func(), err error) {
	if a.outbox == nil {
		return func() {}, nil
	}
	return outbox.Start(ctx, a.outbox, a.log, func(ctx context.Context) (out []*courier) {
		for _, b := range a.bots {
			b.out = newCourier(ctx, a, b)
			out = append(out, b.out)
		}
		return out
	})
}

// receive starts receiving a bot's updates: it hands over the updates a
// crash left unhandled, then points its webhook at us, or starts polling.
func (a *Adapter) receive(ctx context.Context, b *botRunner, polls *sync.WaitGroup) error {
	if err := a.replay(ctx, b); err != nil {
		return err
	}
	if b.cfg.Mode == Webhook {
		if b.cfg.WebhookURL == "" {
			return nil // registered by hand
		}
		_, err := b.api.SetWebhook(ctx, &bot.SetWebhookParams{URL: b.cfg.WebhookURL, SecretToken: string(b.cfg.WebhookSecret), AllowedUpdates: allowedUpdates})
		return err
	}
	info, err := b.api.GetWebhookInfo(ctx)
	if err != nil {
		return err
	}
	if info.URL != "" {
		a.log.Warn("removing the bot's webhook to poll instead", "bot", b.cfg.Name)
		if _, err := b.api.DeleteWebhook(ctx, &bot.DeleteWebhookParams{}); err != nil {
			return err
		}
	}
	polls.Go(func() { a.poll(ctx, b) })
	return nil
}

// shutdown stops accepting updates and closes every open scope.
func (a *Adapter) shutdown() {
	a.scopes.Shutdown()
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hubhq/hub/config"
	"github.com/hubhq/hub/internal/witness"
	"github.com/hubhq/hub/plugins"
	"github.com/hubhq/hub/server"
	"github.com/hubhq/hub/store"
)

// doctorTimeout bounds each network check of `hub doctor`.
const doctorTimeout = 5 * time.Second

func doctorCommand() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the config, consumers, bot tokens, witness, store, layer and MQTT brokers",
		Long: "Check what `hub run` needs, one line per check: the config loads, every routed\n" +
			"consumer exists, every bot has a token (in the config or registered with\n" +
			"`hub token add`; tokens are never printed), the witness process that settles\n" +
			"calls after a crash can run, the store opens at the current schema, the channel\n" +
			"layer answers and the MQTT brokers accept a connection.\n" +
			"Exit status 0 if every check is ok, 1 if one failed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d := &doctor{out: cmd.OutOrStdout()}
			d.run(cmd.Context(), path)
			if d.failures > 0 {
				return failure{fmt.Errorf("doctor: %d check(s) failed", d.failures)}
			}
			return nil
		},
	}
	configFlag(cmd, &path)
	return cmd
}

type doctor struct {
	out      io.Writer
	failures int
}

func (d *doctor) ok(check, format string, args ...any) {
	fmt.Fprintf(d.out, "ok    %-12s %s\n", check, fmt.Sprintf(format, args...))
}

func (d *doctor) fail(check, format string, args ...any) {
	d.failures++
	fmt.Fprintf(d.out, "FAIL  %-12s %s\n", check, fmt.Sprintf(format, args...))
}

func (d *doctor) skip(check, why string) {
	fmt.Fprintf(d.out, "skip  %-12s %s\n", check, why)
}

func (d *doctor) run(ctx context.Context, path string) {
	cfg, err := loadConfig(path)
	if err != nil {
		d.configFailed(path, err)
		return
	}
	d.ok("config", "%s", cfg.File())
	d.consumers(cfg)
	db := d.store(cfg)
	if db != nil {
		defer db.Close()
	}
	d.tokens(ctx, cfg, db)
	d.witness(cfg)
	d.layer(ctx, cfg)
	d.brokers(ctx, cfg)
}

// configFailed reports a config that does not load: unknown consumers on
// their own line, everything else (file:line each) on the config's.
func (d *doctor) configFailed(path string, err error) {
	var consumerErrs, other []string
	for _, e := range flatten(err) {
		var ce *config.Error
		if errors.As(e, &ce) && (strings.HasSuffix(ce.Path, ".consumer") || strings.HasSuffix(ce.Path, ".handler")) {
			consumerErrs = append(consumerErrs, e.Error())
		} else {
			other = append(other, e.Error())
		}
	}
	if len(other) == 0 {
		other = []string{"only its consumers are wrong"}
	}
	d.fail("config", "%s", strings.Join(other, "; "))
	if len(consumerErrs) > 0 {
		d.fail("consumers", "%s", strings.Join(consumerErrs, "; "))
	} else {
		d.skip("consumers", "the config does not load")
	}
	for _, c := range []string{"tokens", "store", "layer", "mqtt"} {
		d.skip(c, "the config does not load")
	}
}

// flatten splits errors joined with errors.Join.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// consumers builds every routed consumer with its options, as the server
// will.
func (d *doctor) consumers(cfg *config.Config) {
	type route struct {
		at, name string
		opts     map[string]any
	}
	var routes []route
	r := cfg.Routes
	for i, x := range r.WebSocket {
		routes = append(routes, route{fmt.Sprintf("routes.websocket[%d]", i), x.Consumer, x.Options})
	}
	for i, x := range r.Telegram {
		routes = append(routes, route{fmt.Sprintf("routes.telegram[%d]", i), x.Consumer, x.Options})
	}
	for i, x := range r.Discord {
		routes = append(routes, route{fmt.Sprintf("routes.discord[%d]", i), x.Consumer, x.Options})
	}
	for i, x := range r.MQTT {
		routes = append(routes, route{fmt.Sprintf("routes.mqtt[%d]", i), x.Consumer, x.Options})
	}
	for i, x := range r.Channel {
		routes = append(routes, route{fmt.Sprintf("routes.channel[%d]", i), x.Consumer, x.Options})
	}
	var errs []string
	names := map[string]bool{}
	for _, rt := range routes {
		names[rt.name] = true
		if _, err := plugins.New(rt.name, plugins.Options(rt.opts)); err != nil {
			errs = append(errs, cfg.Errorf(rt.at+".consumer", "%v", err).Error())
		}
	}
	for i, h := range r.HTTP {
		if _, ok := plugins.Handler(h.Handler); !ok {
			errs = append(errs, cfg.Errorf(fmt.Sprintf("routes.http[%d].handler", i), "unknown handler %q", h.Handler).Error())
		}
	}
	if len(errs) > 0 {
		d.fail("consumers", "%s", strings.Join(errs, "; "))
		return
	}
	d.ok("consumers", "%d route(s), %d consumer(s), %d page(s)", len(routes), len(names), len(r.HTTP))
}

// store opens the store, unless its file does not exist yet: the doctor
// creates nothing.
func (d *doctor) store(cfg *config.Config) *store.DB {
	if _, err := os.Stat(cfg.Store); errors.Is(err, os.ErrNotExist) {
		d.ok("store", "%s does not exist yet (hub run creates it)", cfg.Store)
		return nil
	}
	db, err := store.Open(cfg.Store)
	if err != nil {
		d.fail("store", "open %s: %v", cfg.Store, err)
		return nil
	}
	v, err := db.SchemaVersion()
	if err != nil {
		db.Close()
		d.fail("store", "%s: %v", cfg.Store, err)
		return nil
	}
	note := ""
	if r := db.Replayed(); r != (store.Replay{}) {
		// Opening it settled what a crashed hub left: say so, since the
		// hub's own start will not see it now.
		note = fmt.Sprintf("; settled the bot calls the last run left in flight: %d answered, %d in doubt, %d to be made again", r.Answered, r.InDoubt, r.Again)
	}
	d.ok("store", "%s (schema version %d, current)%s", cfg.Store, v, note)
	return db
}

// witness checks that the outbox's witness can run beside the hub: the
// process that settles the calls a crash catches at their last write.
func (d *doctor) witness(cfg *config.Config) {
	if len(cfg.Bots) == 0 {
		d.skip("witness", "no bots: no outbox calls to witness")
		return
	}
	switch err := witness.Check(); {
	case errors.Is(err, errors.ErrUnsupported):
		d.skip("witness", "not available on "+runtime.GOOS+": a crash at a call's last write makes that call again")
	case err != nil:
		d.fail("witness", "%v: a crash at a call's last write would make that call again", err)
	default:
		d.ok("witness", "runs beside the hub: a crash repeats no call")
	}
}

// tokens checks that every bot has a token, never printing one.
func (d *doctor) tokens(ctx context.Context, cfg *config.Config, db *store.DB) {
	if len(cfg.Bots) == 0 {
		d.ok("tokens", "no bots configured")
		return
	}
	for i, b := range cfg.Bots {
		check := "token " + b.Name
		at := fmt.Sprintf("bots[%d].token", i)
		if b.Token.Value() != "" {
			d.ok(check, "set in %s", cfg.File())
			continue
		}
		if db == nil {
			d.fail(check, "%v", cfg.Errorf(at, "no token: set token: or run `hub token add %s %s`", b.Platform, b.Name))
			continue
		}
		_, platform, err := db.TokenGet(ctx, b.Name)
		switch {
		case errors.Is(err, store.ErrNoToken):
			d.fail(check, "%v", cfg.Errorf(at, "no token: set token: or run `hub token add %s %s`", b.Platform, b.Name))
		case err != nil:
			d.fail(check, "read store: %v", err)
		case platform != b.Platform:
			d.fail(check, "%v", cfg.Errorf(at, "the stored token %q is for %s, not %s", b.Name, platform, b.Platform))
		default:
			d.ok(check, "registered in the store")
		}
	}
}

// layer connects to the configured channel layer.
func (d *doctor) layer(ctx context.Context, cfg *config.Config) {
	ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	l, err := server.NewLayer(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		d.fail("layer", "%s: %v", cfg.Layer, err)
		return
	}
	if l != nil {
		l.Close()
	}
	d.ok("layer", "%s", cfg.Layer)
}

// brokers dials every MQTT broker's TCP address.
func (d *doctor) brokers(ctx context.Context, cfg *config.Config) {
	if len(cfg.MQTT) == 0 {
		d.ok("mqtt", "no brokers configured")
		return
	}
	for _, b := range cfg.MQTT {
		check := "mqtt " + b.Name
		shown := config.RedactURL(b.URL)
		addr, err := brokerAddr(b.URL)
		if err != nil {
			d.fail(check, "%s: %v", shown, err)
			continue
		}
		dctx, cancel := context.WithTimeout(ctx, doctorTimeout)
		conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
		cancel()
		if err != nil {
			d.fail(check, "%s: %v", shown, redactAll(err.Error(), b.URL, shown))
			continue
		}
		conn.Close()
		d.ok(check, "%s answers", shown)
	}
}

// brokerAddr is the host:port of an MQTT broker URL.
func brokerAddr(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return "", errors.New("not a broker URL")
	}
	if u.Port() != "" {
		return u.Host, nil
	}
	port := map[string]string{"tcp": "1883", "mqtt": "1883", "ssl": "8883", "tls": "8883", "mqtts": "8883", "ws": "80", "wss": "443"}[u.Scheme]
	if port == "" {
		return "", fmt.Errorf("unknown scheme %q", u.Scheme)
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

func redactAll(msg, raw, shown string) string {
	return strings.ReplaceAll(msg, raw, shown)
}

package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/hooks/storage/bolt"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Options configures the embedded broker.
type Options struct {
	// Addr is the TCP address to listen on (port 0 picks a free one).
	// Default "127.0.0.1:1883": devices elsewhere need it set on purpose.
	Addr string
	// Users maps user names to passwords. Empty allows anonymous clients,
	// which is why the default address is loopback only.
	Users map[string]string
	// DataDir keeps sessions, subscriptions, retained and queued messages
	// in DataDir/broker.db ("": memory only, lost on restart).
	DataDir string
	Logger  *slog.Logger // nil: slog.Default()
}

// Broker is an embedded MQTT broker. New binds its address, so Addr and
// URL are known before Run.
type Broker struct {
	srv  *mochi.Server
	ln   net.Listener
	used bool
}

// New configures the broker and binds its listener.
func New(opts Options) (*Broker, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:1883"
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	srv := mochi.New(&mochi.Options{Logger: log.With("component", "mqtt-broker")})
	if err := addAuth(srv, opts.Users); err != nil {
		return nil, err
	}
	if opts.DataDir != "" {
		if err := addStore(srv, opts.DataDir); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("mqtt broker: listen: %w", err)
	}
	if err := srv.AddListener(listeners.NewNet("tcp", ln)); err != nil {
		ln.Close()
		return nil, fmt.Errorf("mqtt broker: %w", err)
	}
	return &Broker{srv: srv, ln: ln}, nil
}

func addAuth(srv *mochi.Server, users map[string]string) error {
	if len(users) == 0 {
		return srv.AddHook(new(auth.AllowHook), nil)
	}
	ledger := &auth.Ledger{Users: auth.Users{}}
	for name, pw := range users {
		if pw == "" {
			return fmt.Errorf("mqtt broker: user %q has an empty password", name)
		}
		ledger.Users[name] = auth.UserRule{Username: auth.RString(name), Password: auth.RString(pw)}
	}
	if err := srv.AddHook(new(auth.Hook), &auth.Options{Ledger: ledger}); err != nil {
		return fmt.Errorf("mqtt broker: auth: %w", err)
	}
	return nil
}

func addStore(srv *mochi.Server, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("mqtt broker: data dir: %w", err)
	}
	err := srv.AddHook(boltStore{new(bolt.Hook)}, &bolt.Options{Path: filepath.Join(dir, "broker.db")})
	if err != nil {
		return fmt.Errorf("mqtt broker: store in %s: %w", dir, err)
	}
	return nil
}

// Addr is the address the broker listens on ("127.0.0.1:41883").
func (b *Broker) Addr() string { return b.ln.Addr().String() }

// URL is the address as a client URL: give it to the adapter's BrokerConfig.
func (b *Broker) URL() string { return "tcp://" + b.Addr() }

// Run serves until ctx ends, then disconnects every client and closes the
// store. A broker runs once.
func (b *Broker) Run(ctx context.Context) error {
	if b.used {
		return errors.New("mqtt broker: already ran")
	}
	b.used = true
	if err := b.srv.Serve(); err != nil {
		b.srv.Close()
		return fmt.Errorf("mqtt broker: %w", err)
	}
	<-ctx.Done()
	return b.srv.Close()
}

package plugins

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/hubhq/hub/core"
)

// Options are a plugin's settings from the config file, e.g.
// {"threshold": 30}. Use Decode to read them into a struct.
type Options map[string]any

// Decode reads the options into the struct pointed to by v, through JSON so
// `json:"name"` tags apply. An option v has no field for is an error, so a
// typo in the config is reported instead of ignored.
func (o Options) Decode(v any) error {
	raw, err := json.Marshal(map[string]any(o))
	if err != nil {
		return fmt.Errorf("plugins: options: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("plugins: options: %w", err)
	}
	return nil
}

// Factory builds a consumer from its config options; an error says what is
// wrong with them.
type Factory func(opts Options) (core.Application, error)

var (
	mu       sync.RWMutex
	apps     = map[string]Factory{}
	handlers = map[string]http.Handler{}
	// validName keeps names usable in config files, metric labels and state
	// namespaces.
	validName = regexp.MustCompile(`^[a-z][a-z0-9_.-]*$`)
)

// Register makes app available under name. It takes no options: New with
// options for it is an error. It panics if name is taken or malformed.
func Register(name string, app core.Application) {
	if app == nil {
		panic(fmt.Sprintf("plugins: Register(%q) with a nil application", name))
	}
	RegisterFactory(name, func(opts Options) (core.Application, error) {
		if len(opts) > 0 {
			return nil, fmt.Errorf("takes no options (got %s)", strings.Join(slices.Sorted(maps.Keys(opts)), ", "))
		}
		return app, nil
	})
}

// RegisterFactory makes a consumer that is built from config options
// available under name. It panics if name is taken or malformed.
func RegisterFactory(name string, f Factory) {
	checkName(name)
	if f == nil {
		panic(fmt.Sprintf("plugins: RegisterFactory(%q) with a nil factory", name))
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := apps[name]; dup {
		panic(fmt.Sprintf("plugins: consumer %q registered twice", name))
	}
	apps[name] = f
}

func checkName(name string) {
	if !validName.MatchString(name) {
		panic(fmt.Sprintf("plugins: bad plugin name %q (lower-case letters, digits, _ . -, starting with a letter)", name))
	}
}

// New builds the consumer registered under name with opts. An unknown name
// is an error that lists the known ones.
func New(name string, opts Options) (core.Application, error) {
	mu.RLock()
	f, ok := apps[name]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("plugins: unknown consumer %q (known: %s)", name, known(Names()))
	}
	app, err := f(opts)
	if err != nil {
		return nil, fmt.Errorf("plugins: %s: %w", name, err)
	}
	return app, nil
}

// Names lists the registered consumers, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	return slices.Sorted(maps.Keys(apps))
}

// RegisterHandler makes an HTTP page available under name, for plugins
// that serve one beside their consumer. It panics if name is taken or
// malformed.
func RegisterHandler(name string, h http.Handler) {
	checkName(name)
	if h == nil {
		panic(fmt.Sprintf("plugins: RegisterHandler(%q) with a nil handler", name))
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := handlers[name]; dup {
		panic(fmt.Sprintf("plugins: handler %q registered twice", name))
	}
	handlers[name] = h
}

// Handler returns the HTTP page registered under name.
func Handler(name string) (http.Handler, bool) {
	mu.RLock()
	defer mu.RUnlock()
	h, ok := handlers[name]
	return h, ok
}

// HandlerNames lists the registered pages, sorted.
func HandlerNames() []string {
	mu.RLock()
	defer mu.RUnlock()
	return slices.Sorted(maps.Keys(handlers))
}

func known(names []string) string {
	if len(names) == 0 {
		return "none registered; is the plugin package imported?"
	}
	return strings.Join(names, ", ")
}

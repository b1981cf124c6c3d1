package discord

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hubhq/hub/adapters/outbox"
)

// discordHost is where discordgo sends every REST call, gateway discovery
// included: its endpoints are package variables naming it.
const discordHost = "discord.com"

// redirect sends a bot's requests for discord.com to its own API server.
// It is how several bots with different servers share one process: each
// session gets its own http.Client, and discordgo's package-level endpoint
// variables stay untouched. The gateway URL comes from GET /gateway through
// the same client, so the session dials the right server too.
type redirect struct {
	base *url.URL // scheme, host and optional path prefix standing for https://discord.com
	next http.RoundTripper
}

func (r redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != discordHost {
		return r.next.RoundTrip(req)
	}
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = r.base.Scheme, r.base.Host
	req.URL.Path = r.base.Path + req.URL.Path
	if req.URL.RawPath != "" {
		req.URL.RawPath = r.base.Path + req.URL.RawPath
	}
	req.Host = r.base.Host
	return r.next.RoundTrip(req)
}

// CloseIdleConnections passes http.Client.CloseIdleConnections on.
func (r redirect) CloseIdleConnections() {
	if c, ok := r.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// transport returns the RoundTripper for a bot's API URL ("" is Discord).
// It journals the outbox's calls (see outbox.Transport).
func transport(apiURL string) (http.RoundTripper, error) {
	t := http.DefaultTransport.(*http.Transport).Clone() // no connection pool shared between bots
	// Journaled calls speak HTTP/1.1, one call per connection at a time:
	// keep as many idle as a busy bot uses at once (Discord allows 50
	// calls a second), rather than dial and close one per call.
	t.MaxIdleConnsPerHost = 64
	next := outbox.Transport(t)
	if apiURL == "" {
		return next, nil
	}
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bad api_url %q: want http(s)://host[/prefix]", apiURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return redirect{base: u, next: next}, nil
}

package chatroom

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"net/http"
)

//go:embed page.html
var page []byte

// csp allows the page exactly what it uses: its own inline script (by
// hash, so an injected one would not run), inline styles, and sockets to
// the hub that served it.
var csp = "default-src 'none'; script-src 'sha256-" + scriptHash(page) + "'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// scriptHash is the CSP hash of the page's one inline script.
func scriptHash(html []byte) string {
	_, rest, _ := bytes.Cut(html, []byte("<script>"))
	script, _, _ := bytes.Cut(rest, []byte("</script>"))
	sum := sha256.Sum256(script)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Page returns the chat page: pick a room and a name, join, talk. It is one
// self-contained HTML file with no external assets, served at "/" (and
// "/index.html") of wherever it is mounted; it opens its socket at
// /ws/chat/<room>/ on the same host.
func Page() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" && r.URL.Path != "/index.html" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(page)
	})
}

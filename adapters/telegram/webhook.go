package telegram

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/go-telegram/bot/models"
)

// maxUpdateSize bounds a webhook request body; real updates are a few KiB.
const maxUpdateSize = 1 << 20

// Webhook returns the handler Telegram posts a webhook bot's updates to:
// mount it at the URL given to setWebhook. It refuses a request without the
// bot's secret (401), and answers 503 outside Run so Telegram delivers the
// update again later. The update is in its scope's inbox when it answers 200.
func (a *Adapter) Webhook(name string) (http.Handler, error) {
	b := a.bots[name]
	switch {
	case b == nil:
		return nil, fmt.Errorf("telegram: no bot named %q", name)
	case b.cfg.Mode != Webhook:
		return nil, fmt.Errorf("telegram: bot %q uses %s, not webhook", name, b.cfg.Mode)
	}
	secret := []byte(b.cfg.WebhookSecret)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		if got := []byte(r.Header.Get("X-Telegram-Bot-Api-Secret-Token")); len(secret) > 0 && subtle.ConstantTimeCompare(got, secret) != 1 {
			a.log.Warn("webhook request with a wrong secret refused", "bot", name, "client", r.RemoteAddr)
			http.Error(w, "wrong secret token", http.StatusUnauthorized)
			return
		}
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxUpdateSize))
		var u models.Update
		if err == nil {
			err = json.Unmarshal(raw, &u)
		}
		if err != nil {
			http.Error(w, "bad update: "+err.Error(), http.StatusBadRequest)
			return
		}
		// With an Outbox the update is journaled before Telegram hears 200,
		// so a crash after it cannot lose it.
		if a.outbox != nil && a.scopes.Running() {
			if err := a.journal(r.Context(), b, []incoming{{u: &u, raw: raw}}, "", 0); err != nil {
				a.log.Warn("webhook update not journaled", "bot", name, "update_id", u.ID, "err", err)
				http.Error(w, "update not stored", http.StatusServiceUnavailable)
				return
			}
		}
		switch err := a.dispatch(r.Context(), b, &u); {
		case errors.Is(err, errNotRunning):
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		case err != nil:
			a.log.Warn("webhook update not delivered", "bot", name, "update_id", u.ID, "err", err)
			http.Error(w, "update not delivered", http.StatusServiceUnavailable)
		}
	}), nil
}

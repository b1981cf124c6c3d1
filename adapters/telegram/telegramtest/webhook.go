package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-telegram/bot/models"
)

// webhook is a bot's webhook, set with setWebhook: while it is set the fake
// posts every pending update to it, one at a time and in order, and
// forgets an update once the hook answers 2xx. Other answers are retried
// after a backoff (10 ms doubling to 1 s; Telegram's is longer).
type webhook struct {
	url, secret string
	delivering  bool   // a delivery goroutine runs
	lastError   string // for getWebhookInfo
}

var hookClient = &http.Client{Timeout: 10 * time.Second}

func (b *Bot) setWebhook(p params, _ time.Time) (any, *apiError) {
	url := p["url"]
	if url == "" {
		return b.deleteWebhook(p, time.Time{})
	}
	// Telegram wants https; the fake takes http too, for httptest servers.
	if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://") {
		return nil, badRequest("bad webhook: An HTTPS URL must be provided for webhook")
	}
	if p["drop_pending_updates"] == "true" {
		b.updates = nil
	}
	b.webhook.url, b.webhook.secret, b.webhook.lastError = url, p["secret_token"], ""
	if !b.webhook.delivering {
		b.webhook.delivering = true
		b.s.deliverer.Add(1)
		go b.deliver(b.s.ctx)
	}
	b.s.notify()
	return true, nil
}

func (b *Bot) deleteWebhook(p params, _ time.Time) (any, *apiError) {
	if p["drop_pending_updates"] == "true" {
		b.updates = nil
	}
	b.webhook.url, b.webhook.secret = "", ""
	b.s.notify()
	return true, nil
}

func (b *Bot) getWebhookInfo(params, time.Time) (any, *apiError) {
	return &models.WebhookInfo{URL: b.webhook.url, PendingUpdateCount: len(b.updates), LastErrorMessage: b.webhook.lastError}, nil
}

// deliver posts pending updates to the webhook until it is deleted or the
// server closes.
func (b *Bot) deliver(ctx context.Context) {
	defer b.s.deliverer.Done()
	wait := 10 * time.Millisecond
	for {
		b.s.mu.Lock()
		if b.webhook.url == "" || ctx.Err() != nil {
			b.webhook.delivering = false
			b.s.mu.Unlock()
			return
		}
		if len(b.updates) == 0 {
			changed := b.s.wait()
			b.s.mu.Unlock()
			select {
			case <-changed:
			case <-ctx.Done():
			}
			continue
		}
		u, hook := b.updates[0], b.webhook
		b.s.mu.Unlock()

		err := post(ctx, hook, u)
		b.s.mu.Lock()
		if err == nil && len(b.updates) > 0 && b.updates[0] == u {
			b.updates = b.updates[1:]
			b.s.notify()
		}
		if err != nil {
			b.webhook.lastError = err.Error()
		}
		b.s.mu.Unlock()
		if err == nil {
			wait = 10 * time.Millisecond
			continue
		}
		select {
		case <-time.After(wait):
			wait = min(2*wait, time.Second)
		case <-ctx.Done():
		}
	}
}

func post(ctx context.Context, hook webhook, u *models.Update) error {
	body, err := json.Marshal(u)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if hook.secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", hook.secret)
	}
	resp, err := hookClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("Wrong response from the webhook: %s", resp.Status)
	}
	return nil
}

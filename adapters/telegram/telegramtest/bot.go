package telegramtest

import (
	"context"
	"hash/fnv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"
)

// WaitTimeout is how long WaitSent waits before failing the test.
var WaitTimeout = 10 * time.Second

// Bot is one bot on the fake server: its update queue, the chats it is in and
// the requests it received. All methods are safe for concurrent use.
type Bot struct {
	s     *Server
	token string
	// ID and Username are what getMe reports.
	ID       int64
	Username string

	// The fields below are guarded by s.mu.
	updates    []*models.Update // not yet confirmed by an offset
	lastUpdate int64
	chats      map[int64]*chatLog
	requests   []Request
	forget     bool                   // requests are counted, not kept
	calls      map[string]int         // by lower-cased method
	failures   map[string][]*apiError // by lower-cased method
	flood      map[int64]time.Time    // chat id (0: the whole bot) → retry time
	violations int
	callbacks  map[string]bool // callback query id → answered
	polls      int             // getUpdates calls so far: a newer one ends an older one
	webhook    webhook
}

// Message is a message in a fake chat, as it is now.
type Message struct {
	ID       int
	ChatID   int64
	ThreadID int
	Text     string
	// ReplyTo is the id of the message answered, 0 for none.
	ReplyTo int
	// FromBot is true for messages the bot sent, false for pushed ones.
	FromBot bool
	Edited  bool
	Deleted bool
	// Reaction is the emoji the bot set on the message, "" for none.
	Reaction string
	Time     time.Time
}

// Request is one API call the bot made. Params are the request parameters,
// whatever encoding they came in; nested objects keep their JSON text.
type Request struct {
	Method string
	ChatID int64 // 0 when the method has no chat_id
	Params map[string]string
	Time   time.Time
}

type chatLog struct {
	chat   models.Chat
	nextID int
	msgs   map[int]*Message
	order  []int // ids of messages, oldest first
}

func newBot(s *Server, token, username string) *Bot {
	id, err := strconv.ParseInt(strings.SplitN(token, ":", 2)[0], 10, 64)
	if err != nil {
		id = userID(username)
	}
	return &Bot{
		s: s, token: token, ID: id, Username: username, lastUpdate: 1000,
		chats: make(map[int64]*chatLog), failures: make(map[string][]*apiError), calls: make(map[string]int),
		flood: make(map[int64]time.Time), callbacks: make(map[string]bool),
	}
}

// User makes the Telegram user called name, with a stable id derived from it.
func User(name string) models.User {
	return models.User{ID: userID(name), FirstName: name, Username: strings.ToLower(name)}
}

func userID(name string) int64 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int64(h.Sum32()&0x7fffffff) + 1
}

// NewMessage makes a text message from a user in a chat: a private chat
// for a positive id, a supergroup for a negative one. Set MessageThreadID
// and IsTopicMessage for a forum topic. PushUpdate gives it an id and a date.
func NewMessage(chatID int64, from, text string) *models.Message {
	u := User(from)
	c := models.Chat{ID: chatID, Type: models.ChatTypePrivate, FirstName: u.FirstName, Username: u.Username}
	if chatID < 0 {
		c = models.Chat{ID: chatID, Type: models.ChatTypeSupergroup, Title: "Group " + strconv.FormatInt(-chatID, 10)}
	}
	return &models.Message{From: &u, Chat: c, Text: text}
}

// PushMessage queues a text message from the user called from, as an
// update for the bot's next getUpdates, and returns it with its id.
func (b *Bot) PushMessage(chatID int64, from, text string) *models.Message {
	m := NewMessage(chatID, from, text)
	b.PushUpdate(&models.Update{Message: m})
	return m
}

// PushUpdate queues any update. It sets the update id, and gives messages
// in it without an id the chat's next id and a date, as Telegram would.
func (b *Bot) PushUpdate(u *models.Update) int64 {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	b.lastUpdate++
	u.ID = b.lastUpdate
	for _, m := range []*models.Message{u.Message, u.EditedMessage, u.ChannelPost, u.EditedChannelPost} {
		if m != nil {
			b.record(m, u.EditedMessage == m || u.EditedChannelPost == m)
		}
	}
	if cq := u.CallbackQuery; cq != nil {
		b.callbacks[cq.ID] = false
	}
	b.updates = append(b.updates, u)
	b.s.notify()
	return u.ID
}

// record keeps a pushed user message in its chat. Callers hold s.mu.
func (b *Bot) record(m *models.Message, edited bool) {
	if m.Date == 0 {
		m.Date = int(time.Now().Unix())
	}
	c := b.chat(m.Chat)
	if edited {
		if old := c.msgs[m.ID]; old != nil {
			old.Text, old.Edited = m.Text, true
		}
		return
	}
	if m.ID == 0 {
		m.ID = c.nextID + 1
	}
	reply := 0
	if m.ReplyToMessage != nil {
		reply = m.ReplyToMessage.ID
	}
	c.add(&Message{ID: m.ID, ChatID: m.Chat.ID, ThreadID: m.MessageThreadID, Text: m.Text, ReplyTo: reply, Time: time.Now()})
}

// chat returns the chat's log, creating it. Callers hold s.mu.
func (b *Bot) chat(c models.Chat) *chatLog {
	log := b.chats[c.ID]
	if log == nil {
		log = &chatLog{chat: c, msgs: make(map[int]*Message)}
		b.chats[c.ID] = log
	}
	return log
}

func (c *chatLog) add(m *Message) {
	c.nextID = max(c.nextID, m.ID)
	c.msgs[m.ID] = m
	c.order = append(c.order, m.ID)
}

// FailNext makes the next call of method fail with code (429, 400, 403,
// 500, …). For 429, retryAfter is the retry_after in seconds, which the
// fake then enforces on the request's chat (or the whole bot).
func (b *Bot) FailNext(method string, code, retryAfter int) {
	e := &apiError{Code: code, Description: http.StatusText(code)}
	switch code {
	case http.StatusTooManyRequests:
		e = tooManyRequests(retryAfter)
	case http.StatusBadRequest:
		e = badRequest("injected failure")
	case http.StatusForbidden:
		e.Description = "Forbidden: bot was blocked by the user"
	}
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	m := strings.ToLower(method)
	b.failures[m] = append(b.failures[m], e)
}

// Sent returns the messages the bot sent to a chat, oldest first, in their
// current state (deleted ones are kept, marked Deleted).
func (b *Bot) Sent(chatID int64) []Message {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	return b.sent(chatID)
}

func (b *Bot) sent(chatID int64) []Message {
	var out []Message
	if c := b.chats[chatID]; c != nil {
		for _, id := range c.order {
			if m := c.msgs[id]; m.FromBot {
				out = append(out, *m)
			}
		}
	}
	return out
}

// WaitSent waits until the bot has sent at least n messages to a chat and
// returns them all; it fails the test after WaitTimeout.
func (b *Bot) WaitSent(t testing.TB, chatID int64, n int) []Message {
	t.Helper()
	var got []Message
	ok := b.waitFor(WaitTimeout, func() bool {
		got = b.sent(chatID)
		return len(got) >= n
	})
	if !ok {
		t.Fatalf("telegramtest: bot %s sent %d messages to chat %d, want %d: %+v", b.Username, len(got), chatID, n, got)
	}
	return got
}

// WaitRequests waits until the bot has made at least n calls of method and
// returns them; it fails the test after WaitTimeout.
func (b *Bot) WaitRequests(t testing.TB, method string, n int) []Request {
	t.Helper()
	var got []Request
	ok := b.waitFor(WaitTimeout, func() bool {
		got = b.requestsOf(method)
		return len(got) >= n
	})
	if !ok {
		t.Fatalf("telegramtest: bot %s made %d %s requests, want %d", b.Username, len(got), method, n)
	}
	return got
}

// waitFor evaluates cond under the lock at every change until it holds.
func (b *Bot) waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		b.s.mu.Lock()
		ok, changed := cond(), b.s.wait()
		b.s.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return false
		}
	}
}

// Message returns any message of a chat, pushed or sent, by id.
func (b *Bot) Message(chatID int64, id int) (Message, bool) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	if c := b.chats[chatID]; c != nil && c.msgs[id] != nil {
		return *c.msgs[id], true
	}
	return Message{}, false
}

// KeepRequests says whether the bot keeps every request it gets, for
// Requests and WaitRequests: it does unless told not to. A benchmark that
// sends many thousands turns it off and counts them (Calls); a test that
// only checks what was sent can too (Sent, WaitSent).
func (b *Bot) KeepRequests(keep bool) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	b.forget = !keep
}

// Calls is how many calls of method the bot got ("" for all), kept or not.
func (b *Bot) Calls(method string) int {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	if method != "" {
		return b.calls[strings.ToLower(method)]
	}
	n := 0
	for _, c := range b.calls {
		n += c
	}
	return n
}

// Requests returns the calls of method the bot made ("" for all), oldest
// first: those it got while it kept them (see KeepRequests).
func (b *Bot) Requests(method string) []Request {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	return b.requestsOf(method)
}

func (b *Bot) requestsOf(method string) []Request {
	var out []Request
	for _, r := range b.requests {
		if method == "" || strings.EqualFold(r.Method, method) {
			out = append(out, r)
		}
	}
	return out
}

// Pending is the number of updates not yet confirmed by a getUpdates offset.
func (b *Bot) Pending() int {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	return len(b.updates)
}

// FloodViolations counts requests that arrived while a retry_after the fake
// had answered was still running: a client honouring 429 makes none.
func (b *Bot) FloodViolations() int {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	return b.violations
}

// call records a request and answers it. Only getUpdates waits, and it
// does so without the lock.
func (b *Bot) call(r *http.Request, method string, p params) (any, *apiError) {
	now := time.Now()
	chatID, _ := strconv.ParseInt(p["chat_id"], 10, 64)
	name := strings.ToLower(method)
	b.s.mu.Lock()
	b.calls[name]++
	if !b.forget {
		b.requests = append(b.requests, Request{Method: method, ChatID: chatID, Params: p, Time: now})
	}
	b.s.notify()
	h, ok := methods[name]
	if !ok && name != "getupdates" {
		b.s.mu.Unlock()
		return nil, &apiError{Code: http.StatusNotFound, Description: "Not Found"}
	}
	if err := b.injected(name, chatID, now); err != nil {
		b.s.mu.Unlock()
		return nil, err
	}
	if name == "getupdates" {
		return b.getUpdates(r.Context(), p) // it unlocks
	}
	defer b.s.mu.Unlock()
	return h(b, p, now)
}

// injected answers a request with a queued failure, or with 429 while an
// earlier retry_after runs. Polling is exempt from flood control, as
// Telegram's limits concern what a bot sends. Callers hold s.mu.
func (b *Bot) injected(method string, chatID int64, now time.Time) *apiError {
	if method != "getupdates" {
		for _, key := range []int64{0, chatID} {
			if until, ok := b.flood[key]; ok && now.Before(until) {
				b.violations++
				return tooManyRequests(secondsUntil(until, now))
			}
		}
	}
	q := b.failures[method]
	if len(q) == 0 {
		return nil
	}
	e := q[0]
	b.failures[method] = q[1:]
	if e.RetryAfter > 0 {
		b.flood[chatID] = now.Add(time.Duration(e.RetryAfter) * time.Second)
	}
	return e
}

// getUpdates long-polls: it forgets updates the offset confirms and waits
// up to timeout seconds for one to arrive. It is called with s.mu held and
// releases it.
func (b *Bot) getUpdates(ctx context.Context, p params) (any, *apiError) {
	offset, _ := strconv.ParseInt(p["offset"], 10, 64)
	limit, _ := strconv.Atoi(p["limit"])
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	timeout, _ := strconv.Atoi(p["timeout"])
	deadline := time.NewTimer(time.Duration(timeout) * time.Second)
	defer deadline.Stop()
	b.polls++
	poll := b.polls
	b.s.notify() // wakes an older poll, which then ends
	if b.pollConflict(poll) == nil {
		// Confirm in the same moment the request is recorded, so a test
		// that saw the request also sees its offset confirmed.
		b.confirm(offset)
	}
	b.s.mu.Unlock()
	for {
		b.s.mu.Lock()
		if err := b.pollConflict(poll); err != nil {
			b.s.mu.Unlock()
			return nil, err
		}
		b.confirm(offset)
		if len(b.updates) > 0 || timeout <= 0 {
			out := slices.Clone(b.updates[:min(limit, len(b.updates))])
			b.s.mu.Unlock()
			return out, nil
		}
		changed := b.s.wait()
		b.s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			timeout = 0
		case <-ctx.Done():
			return []*models.Update{}, nil
		}
	}
}

// pollConflict refuses a long poll, as Telegram does, while a webhook is
// set or once a newer poll started (two hub processes with one token).
// Callers hold s.mu.
func (b *Bot) pollConflict(poll int) *apiError {
	switch {
	case b.webhook.url != "":
		return &apiError{Code: http.StatusConflict, Description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"}
	case b.polls != poll:
		return &apiError{Code: http.StatusConflict, Description: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}
	}
	return nil
}

// confirm forgets the updates an offset confirms: those before a positive
// offset, or all but the last -offset for a negative one. Callers hold s.mu.
func (b *Bot) confirm(offset int64) {
	switch {
	case offset > 0:
		i := 0
		for i < len(b.updates) && b.updates[i].ID < offset {
			i++
		}
		b.updates = b.updates[i:]
	case offset < 0 && int64(len(b.updates)) > -offset:
		b.updates = b.updates[len(b.updates)+int(offset):]
	}
}

package discordtest

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"
)

// WaitTimeout is how long the Wait methods wait before failing the test.
var WaitTimeout = 10 * time.Second

// DefaultHeartbeatInterval is the heartbeat_interval HELLO announces, in
// milliseconds, unless Server.HeartbeatInterval is set before a client
// connects.
const DefaultHeartbeatInterval = 41250

// Server is a fake Discord. All methods are safe for concurrent use.
type Server struct {
	srv      *httptest.Server
	upgrader websocket.Upgrader

	mu           sync.Mutex
	changed      *sync.Cond // broadcast whenever something a Wait method watches changes
	heartbeat    int        // milliseconds
	nextID       uint64
	bots         map[string]*account // by token
	channels     map[string]*channel
	messages     map[string]*Message // by id
	nonces       map[string]*Message // by author id and nonce
	deduplicated int
	requests     []Request
	fails        map[string][]failure // by route
	holds        map[string]time.Time // retry_after running, by channel ("" bot-wide: "bot:<id>")
	floods       int
	responses    []InteractionResponse
	interactions map[string]*interaction
	conns        map[*gwConn]struct{}
	identifies   int
	resumes      int
	replayed     int
	heartbeats   int
	skipAcks     int // heartbeats to leave unacknowledged
	closed       bool
	wg           sync.WaitGroup // one per gateway connection
}

// account is one bot account on the fake.
type account struct {
	User  *discordgo.User
	token string

	// Guarded by Server.mu.
	intents discordgo.Intent
	session *session // nil until it identifies, and after an invalidation
	backlog []event  // events waiting for a session
}

type channel struct {
	id, guild, parent string
	kind              discordgo.ChannelType
}

type failure struct {
	code       int
	retryAfter time.Duration
}

// Message is a message in a fake channel, as it is now.
type Message struct {
	ID        string
	ChannelID string
	GuildID   string
	Author    *discordgo.User
	Content   string
	// ReplyTo is the id of the message answered (message_reference), "" for none.
	ReplyTo string
	// Nonce is the nonce the bot sent it with, "" for none.
	Nonce string
	// FromBot is true for messages a bot sent through the REST API.
	FromBot bool
	Edited  bool
	Deleted bool
	// Reactions are the emoji bots set on the message, in the order set.
	Reactions []string
	Time      time.Time
}

// Request is one REST call a bot made.
type Request struct {
	// Route is the method and path pattern without /api/v<n>
	// ("POST /channels/{id}/messages"), as FailNext names it.
	Route     string
	ChannelID string
	Bot       string // the bot's user name, "" when unauthenticated
	Body      []byte
	Time      time.Time
}

// InteractionResponse is a bot's answer to an interaction.
type InteractionResponse struct {
	InteractionID string
	Type          discordgo.InteractionResponseType
	Content       string
	Ephemeral     bool
	Time          time.Time
}

// New starts a fake Discord, closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{
		heartbeat:    DefaultHeartbeatInterval,
		nextID:       1100000000000000000,
		bots:         make(map[string]*account),
		channels:     make(map[string]*channel),
		messages:     make(map[string]*Message),
		nonces:       make(map[string]*Message),
		fails:        make(map[string][]failure),
		holds:        make(map[string]time.Time),
		conns:        make(map[*gwConn]struct{}),
		interactions: make(map[string]*interaction),
	}
	s.changed = sync.NewCond(&s.mu)
	s.srv = httptest.NewServer(s.routes())
	t.Cleanup(s.Close)
	return s
}

// URL is the fake's base URL, which stands for https://discord.com: the
// REST API is under URL()+"/api/v<n>" and the gateway at GatewayURL.
func (s *Server) URL() string { return s.srv.URL }

// GatewayURL is the WebSocket URL GET /gateway returns.
func (s *Server) GatewayURL() string {
	return "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/gateway"
}

// Client returns an HTTP client that sends requests for discord.com to the
// fake: give it to a discordgo.Session as its Client, and the session's
// gateway discovery leads it to the fake too.
func (s *Server) Client() *http.Client {
	base, _ := url.Parse(s.srv.URL)
	return &http.Client{Timeout: 20 * time.Second, Transport: redirect{base: base, next: s.srv.Client().Transport}}
}

// redirect sends requests for discord.com to base.
type redirect struct {
	base *url.URL
	next http.RoundTripper
}

func (r redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != "discord.com" {
		return r.next.RoundTrip(req)
	}
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = r.base.Scheme, r.base.Host
	req.Host = r.base.Host
	return r.next.RoundTrip(req)
}

// SetHeartbeatInterval changes the interval HELLO announces to later
// connections.
func (s *Server) SetHeartbeatInterval(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.heartbeat = int(d / time.Millisecond)
}

// Close closes every gateway connection and the server. New arranges it.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for c := range s.conns {
		c.ws.Close()
	}
	s.changed.Broadcast()
	s.mu.Unlock()
	s.srv.Close()
	s.wg.Wait()
}

// User makes the Discord user called name, with a stable id derived from it.
func User(name string) *discordgo.User {
	h := fnv.New64a()
	h.Write([]byte(name))
	id := 100000000000000000 + h.Sum64()%800000000000000000
	return &discordgo.User{ID: strconv.FormatUint(id, 10), Username: name, GlobalName: name}
}

// AddBot registers a bot account with its token and user name and returns
// its user.
func (s *Server) AddBot(token, name string) *discordgo.User {
	u := User(name)
	u.Bot = true
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bots[token] = &account{User: u, token: token}
	return u
}

// AddThread registers a thread channel inside parent (a guild channel the
// fake has seen, or will: its guild is taken from parent's).
func (s *Server) AddThread(threadID, parentID, guildID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[parentID] = s.channelLocked(parentID, guildID)
	s.channels[threadID] = &channel{id: threadID, guild: guildID, parent: parentID, kind: discordgo.ChannelTypeGuildPublicThread}
}

// channelLocked returns a channel, registering it on first sight: a text
// channel in guild, or a DM when guild is "".
func (s *Server) channelLocked(id, guild string) *channel {
	if c := s.channels[id]; c != nil {
		return c
	}
	c := &channel{id: id, guild: guild, kind: discordgo.ChannelTypeGuildText}
	if guild == "" {
		c.kind = discordgo.ChannelTypeDM
	}
	s.channels[id] = c
	return c
}

func (s *Server) newIDLocked() string {
	s.nextID++
	return strconv.FormatUint(s.nextID, 10)
}

// FailNext makes the next request on route ("POST /channels/{id}/messages",
// see Request.Route) fail with code (429, 500, 403, …). For 429,
// retryAfter is the retry_after, then enforced on the request's channel.
func (s *Server) FailNext(route string, code int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails[route] = append(s.fails[route], failure{code: code, retryAfter: retryAfter})
}

// FloodViolations counts requests that arrived while a retry_after the fake
// had answered was still running: a client honouring 429 makes none.
func (s *Server) FloodViolations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.floods
}

// Deduplicated counts the messages not created because their nonce,
// with enforce_nonce, repeated one their bot had used within NonceWindow:
// Discord answered with the first message instead.
func (s *Server) Deduplicated() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deduplicated
}

// Requests returns the REST requests made on route ("" for all), oldest
// first.
func (s *Server) Requests(route string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.requests {
		if route == "" || r.Route == route {
			out = append(out, r)
		}
	}
	return out
}

// Identifies counts IDENTIFY payloads received, from every bot.
func (s *Server) Identifies() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.identifies
}

// Resumes counts successful RESUMEs.
func (s *Server) Resumes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resumes
}

// Replayed counts dispatches sent again on RESUME, because the client had
// not received them before its connection ended.
func (s *Server) Replayed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replayed
}

// Heartbeats counts heartbeats (op 1) received, from every bot.
func (s *Server) Heartbeats() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.heartbeats
}

// Intents returns the intents the bot with token last identified with.
func (s *Server) Intents(token string) discordgo.Intent {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.bots[token]; b != nil {
		return b.intents
	}
	return 0
}

// Sent returns the messages bots sent to a channel, oldest first, in their
// current state (deleted ones are kept, marked Deleted).
func (s *Server) Sent(channelID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sentLocked(channelID)
}

func (s *Server) sentLocked(channelID string) []Message {
	var out []Message
	for _, m := range s.messages {
		if m.ChannelID == channelID && m.FromBot {
			out = append(out, *m)
		}
	}
	sortMessages(out)
	return out
}

// Message returns any message, pushed or sent, by id.
func (s *Server) Message(id string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[id]
	if !ok {
		return Message{}, false
	}
	return *m, true
}

// WaitSent waits until bots have sent at least n messages to a channel and
// returns them all; it fails the test after WaitTimeout.
func (s *Server) WaitSent(t testing.TB, channelID string, n int) []Message {
	t.Helper()
	var out []Message
	if !s.waitFor(func() bool { out = s.sentLocked(channelID); return len(out) >= n }) {
		t.Fatalf("discordtest: %d of %d messages sent to channel %s after %v: %s", len(out), n, channelID, WaitTimeout, texts(out))
	}
	return out
}

// WaitRequests waits until at least n requests were made on route and
// returns them; it fails the test after WaitTimeout.
func (s *Server) WaitRequests(t testing.TB, route string, n int) []Request {
	t.Helper()
	if !s.waitFor(func() bool { return s.countLocked(route) >= n }) {
		t.Fatalf("discordtest: fewer than %d requests %q after %v", n, route, WaitTimeout)
	}
	return s.Requests(route)
}

func (s *Server) countLocked(route string) int {
	n := 0
	for _, r := range s.requests {
		if r.Route == route {
			n++
		}
	}
	return n
}

// InteractionResponses returns the answers bots gave to interactions.
func (s *Server) InteractionResponses() []InteractionResponse {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]InteractionResponse(nil), s.responses...)
}

// WaitInteractionResponse waits for the answer to an interaction.
func (s *Server) WaitInteractionResponse(t testing.TB, interactionID string) InteractionResponse {
	t.Helper()
	var got InteractionResponse
	ok := s.waitFor(func() bool {
		for _, r := range s.responses {
			if r.InteractionID == interactionID {
				got = r
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("discordtest: no response to interaction %s after %v", interactionID, WaitTimeout)
	}
	return got
}

// WaitConnected waits until the bot with token has a live gateway session
// (it identified or resumed and its socket is open).
func (s *Server) WaitConnected(t testing.TB, token string) {
	t.Helper()
	ok := s.waitFor(func() bool {
		b := s.bots[token]
		return b != nil && b.session != nil && b.session.conn != nil && b.session.ready
	})
	if !ok {
		t.Fatalf("discordtest: bot not connected after %v", WaitTimeout)
	}
}

// WaitCount waits until count() — one of the counters, such as
// s.Identifies or s.Resumes — reaches n; it fails the test after
// WaitTimeout.
func (s *Server) WaitCount(t testing.TB, what string, count func() int, n int) {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	tick := time.NewTicker(2 * time.Millisecond) // count takes the lock itself: poll
	defer tick.Stop()
	for count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("discordtest: %s: %d, want %d, after %v", what, count(), n, WaitTimeout)
		}
		<-tick.C
	}
}

// waitFor waits, holding s.mu while cond runs, until cond holds or
// WaitTimeout passes.
func (s *Server) waitFor(cond func() bool) bool {
	deadline := time.Now().Add(WaitTimeout)
	s.mu.Lock()
	defer s.mu.Unlock()
	for !cond() {
		if !time.Now().Before(deadline) || s.closed {
			return false
		}
		s.waitLocked(deadline)
	}
	return true
}

// waitLocked waits for a change or the deadline; a timer wakes it, since a
// sync.Cond cannot wait with a timeout.
func (s *Server) waitLocked(deadline time.Time) {
	t := time.AfterFunc(time.Until(deadline), func() {
		s.mu.Lock()
		s.changed.Broadcast()
		s.mu.Unlock()
	})
	s.changed.Wait()
	t.Stop()
}

func texts(ms []Message) string {
	q := make([]string, len(ms))
	for i, m := range ms {
		q[i] = strconv.Quote(m.Content)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// writeJSON answers with a JSON body.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// writeError answers like Discord's API errors.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"message": msg, "code": 0})
}

// writeRateLimited answers 429 with the body and headers Discord sends.
func writeRateLimited(w http.ResponseWriter, bucket string, retryAfter time.Duration, global bool) {
	secs := retryAfter.Seconds()
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(secs))))
	h.Set("X-RateLimit-Limit", "5")
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset", fmt.Sprintf("%.3f", float64(time.Now().Add(retryAfter).UnixMilli())/1000))
	h.Set("X-RateLimit-Reset-After", fmt.Sprintf("%.3f", secs))
	h.Set("X-RateLimit-Bucket", bucket)
	scope := "user"
	if global {
		h.Set("X-RateLimit-Global", "true")
		scope = "global"
	}
	h.Set("X-RateLimit-Scope", scope)
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"message": "You are being rate limited.", "retry_after": secs, "global": global})
}

// has reports whether set holds every intent of want.
func has(set, want discordgo.Intent) bool { return set&want == want }

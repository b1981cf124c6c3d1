package discordtest

import (
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"
)

// handler serves one REST route with the fake's lock held; b is the
// authenticated bot (nil on routes that need none).
type handler func(w http.ResponseWriter, r *http.Request, b *account, body []byte)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /gateway", s.serveGateway)
	mux.HandleFunc("GET /gateway/{$}", s.serveGateway) // discordgo adds a slash
	api := func(route string, auth bool, h handler) {
		method, path, _ := strings.Cut(route, " ")
		mux.HandleFunc(method+" /api/{version}"+path, s.api(route, auth, h)) // v9 (discordgo), v10, …
	}
	api("GET /gateway", false, s.getGateway)
	api("GET /gateway/bot", true, s.getGateway)
	api("GET /users/@me", true, s.getMe)
	api("GET /channels/{id}", true, s.getChannel)
	api("POST /channels/{id}/messages", true, s.createMessage)
	api("PATCH /channels/{id}/messages/{mid}", true, s.editMessage)
	api("DELETE /channels/{id}/messages/{mid}", true, s.deleteMessage)
	api("PUT /channels/{id}/messages/{mid}/reactions/{emoji}/@me", true, s.react)
	api("DELETE /channels/{id}/messages/{mid}/reactions/{emoji}/@me", true, s.unreact)
	api("POST /channels/{id}/typing", true, s.typing)
	api("POST /interactions/{iid}/{itoken}/callback", false, s.interactionCallback)
	return mux
}

// api wraps a route: it authenticates the bot, records the request, and
// answers injected failures and requests that break a running retry_after.
func (s *Server) api(route string, auth bool, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		defer s.mu.Unlock()
		defer s.changed.Broadcast()
		b := s.bots[strings.TrimPrefix(r.Header.Get("Authorization"), "Bot ")]
		req := Request{Route: route, ChannelID: r.PathValue("id"), Body: body, Time: time.Now()}
		if b != nil {
			req.Bot = b.User.Username
		}
		s.requests = append(s.requests, req)
		if auth && b == nil {
			writeError(w, http.StatusUnauthorized, "401: Unauthorized")
			return
		}
		hold := req.ChannelID
		if hold == "" && b != nil {
			hold = "bot:" + b.User.ID
		}
		if until, ok := s.holds[hold]; ok && time.Now().Before(until) {
			s.floods++
			writeRateLimited(w, hold, time.Until(until), false)
			return
		}
		if q := s.fails[route]; len(q) > 0 {
			f := q[0]
			s.fails[route] = q[1:]
			if f.code == http.StatusTooManyRequests {
				s.holds[hold] = time.Now().Add(f.retryAfter)
				writeRateLimited(w, hold, f.retryAfter, false)
				return
			}
			writeError(w, f.code, http.StatusText(f.code))
			return
		}
		h(w, r, b, body)
	}
}

func (s *Server) getGateway(w http.ResponseWriter, _ *http.Request, _ *account, _ []byte) {
	writeJSON(w, http.StatusOK, map[string]any{
		"url":                 s.GatewayURL(),
		"shards":              1,
		"session_start_limit": map[string]any{"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1},
	})
}

func (s *Server) getMe(w http.ResponseWriter, _ *http.Request, b *account, _ []byte) {
	writeJSON(w, http.StatusOK, b.User)
}

func (s *Server) getChannel(w http.ResponseWriter, r *http.Request, _ *account, _ []byte) {
	c := s.channels[r.PathValue("id")]
	if c == nil {
		writeError(w, http.StatusNotFound, "Unknown Channel")
		return
	}
	writeJSON(w, http.StatusOK, &discordgo.Channel{ID: c.id, GuildID: c.guild, ParentID: c.parent, Type: c.kind})
}

// NonceWindow is how long the fake remembers a message's nonce. Discord
// says "the past few minutes".
const NonceWindow = 5 * time.Minute

// maxNonce is the longest nonce Discord takes, in characters.
const maxNonce = 25

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request, b *account, body []byte) {
	var p struct {
		discordgo.MessageSend
		Nonce        json.RawMessage `json:"nonce"` // a string or an integer
		EnforceNonce bool            `json:"enforce_nonce"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		writeError(w, http.StatusBadRequest, "Cannot parse body: "+err.Error())
		return
	}
	nonce := strings.Trim(string(p.Nonce), `"`)
	if len(nonce) > maxNonce {
		writeError(w, http.StatusBadRequest, "Invalid Form Body: nonce must be 25 or fewer in length")
		return
	}
	// With enforce_nonce, a nonce the author used within the window gets
	// the message it made then, and no new one.
	nonceKey := b.User.ID + "/" + nonce
	if m := s.nonces[nonceKey]; p.EnforceNonce && nonce != "" && m != nil && time.Since(m.Time) < NonceWindow {
		s.deduplicated++
		writeJSON(w, http.StatusOK, s.wireLocked(m))
		return
	}
	c := s.channels[r.PathValue("id")]
	if c == nil {
		writeError(w, http.StatusNotFound, "Unknown Channel")
		return
	}
	if p.Content == "" && len(p.Embeds) == 0 {
		writeError(w, http.StatusBadRequest, "Cannot send an empty message")
		return
	}
	if tooLong(w, p.Content) {
		return
	}
	m := &Message{ID: s.newIDLocked(), ChannelID: c.id, GuildID: c.guild, Author: b.User, Content: p.Content, Nonce: nonce, FromBot: true, Time: time.Now()}
	if ref := p.Reference; ref != nil {
		if _, ok := s.messages[ref.MessageID]; !ok && (ref.FailIfNotExists == nil || *ref.FailIfNotExists) {
			writeError(w, http.StatusBadRequest, "Unknown message")
			return
		}
		m.ReplyTo = ref.MessageID
	}
	s.messages[m.ID] = m
	if nonce != "" {
		s.nonces[nonceKey] = m
	}
	writeJSON(w, http.StatusOK, s.wireLocked(m))
}

func (s *Server) editMessage(w http.ResponseWriter, r *http.Request, b *account, body []byte) {
	var p struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		writeError(w, http.StatusBadRequest, "Cannot parse body: "+err.Error())
		return
	}
	m := s.ownMessageLocked(w, r, b)
	if m == nil {
		return
	}
	if p.Content != nil {
		if tooLong(w, *p.Content) {
			return
		}
		m.Content = *p.Content
	}
	m.Edited = true
	writeJSON(w, http.StatusOK, s.wireLocked(m))
}

func (s *Server) deleteMessage(w http.ResponseWriter, r *http.Request, _ *account, _ []byte) {
	m := s.messageLocked(w, r)
	if m == nil {
		return
	}
	m.Deleted = true
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) react(w http.ResponseWriter, r *http.Request, _ *account, _ []byte) {
	m := s.messageLocked(w, r)
	if m == nil {
		return
	}
	emoji := r.PathValue("emoji")
	for _, e := range m.Reactions {
		if e == emoji {
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	m.Reactions = append(m.Reactions, emoji)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) unreact(w http.ResponseWriter, r *http.Request, _ *account, _ []byte) {
	m := s.messageLocked(w, r)
	if m == nil {
		return
	}
	emoji := r.PathValue("emoji")
	kept := m.Reactions[:0:0]
	for _, e := range m.Reactions {
		if e != emoji {
			kept = append(kept, e)
		}
	}
	m.Reactions = kept
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) typing(w http.ResponseWriter, r *http.Request, _ *account, _ []byte) {
	if s.channels[r.PathValue("id")] == nil {
		writeError(w, http.StatusNotFound, "Unknown Channel")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) interactionCallback(w http.ResponseWriter, r *http.Request, _ *account, body []byte) {
	id := r.PathValue("iid")
	it := s.interactions[id]
	if it == nil || it.token != r.PathValue("itoken") {
		writeError(w, http.StatusNotFound, "Unknown interaction")
		return
	}
	if it.answered {
		writeError(w, http.StatusBadRequest, "Interaction has already been acknowledged.")
		return
	}
	var p discordgo.InteractionResponse
	if err := json.Unmarshal(body, &p); err != nil {
		writeError(w, http.StatusBadRequest, "Cannot parse body: "+err.Error())
		return
	}
	it.answered = true
	resp := InteractionResponse{InteractionID: id, Type: p.Type, Time: time.Now()}
	if p.Data != nil {
		resp.Content = p.Data.Content
		resp.Ephemeral = p.Data.Flags&discordgo.MessageFlagsEphemeral != 0
	}
	s.responses = append(s.responses, resp)
	w.WriteHeader(http.StatusNoContent)
}

// messageLocked finds the message a request names, answering 404 if none.
func (s *Server) messageLocked(w http.ResponseWriter, r *http.Request) *Message {
	m := s.messages[r.PathValue("mid")]
	if m == nil || m.ChannelID != r.PathValue("id") || m.Deleted {
		writeError(w, http.StatusNotFound, "Unknown Message")
		return nil
	}
	return m
}

// ownMessageLocked is messageLocked for requests only the author may make.
func (s *Server) ownMessageLocked(w http.ResponseWriter, r *http.Request, b *account) *Message {
	m := s.messageLocked(w, r)
	if m != nil && m.Author.ID != b.User.ID {
		writeError(w, http.StatusForbidden, "Cannot edit a message authored by another user")
		return nil
	}
	return m
}

// wireLocked renders a message as the API does.
func (s *Server) wireLocked(m *Message) *discordgo.Message {
	out := &discordgo.Message{ID: m.ID, ChannelID: m.ChannelID, GuildID: m.GuildID, Author: m.Author, Content: m.Content, Timestamp: m.Time}
	if m.Edited {
		now := time.Now()
		out.EditedTimestamp = &now
	}
	if m.ReplyTo != "" {
		out.MessageReference = &discordgo.MessageReference{MessageID: m.ReplyTo, ChannelID: m.ChannelID, GuildID: m.GuildID}
		if ref := s.messages[m.ReplyTo]; ref != nil {
			out.ReferencedMessage = &discordgo.Message{ID: ref.ID, ChannelID: ref.ChannelID, GuildID: ref.GuildID, Author: ref.Author, Content: ref.Content, Timestamp: ref.Time}
		}
	}
	return out
}

// sortMessages orders messages by id, which is their creation order.
func sortMessages(ms []Message) {
	sort.Slice(ms, func(i, j int) bool {
		if len(ms[i].ID) != len(ms[j].ID) {
			return len(ms[i].ID) < len(ms[j].ID)
		}
		return ms[i].ID < ms[j].ID
	})
}

// MaxContent is the longest message content Discord accepts, in characters.
const MaxContent = 2000

// tooLong refuses content over MaxContent as Discord does.
func tooLong(w http.ResponseWriter, content string) bool {
	if utf8.RuneCountInString(content) <= MaxContent {
		return false
	}
	writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Invalid Form Body", "code": 50035,
		"errors": map[string]any{"content": map[string]any{"_errors": []map[string]string{{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}}}}})
	return true
}

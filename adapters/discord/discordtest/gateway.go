package discordtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"
)

// Gateway opcodes.
const (
	opDispatch       = 0
	opHeartbeat      = 1
	opIdentify       = 2
	opResume         = 6
	opReconnect      = 7
	opInvalidSession = 9
	opHello          = 10
	opHeartbeatAck   = 11
)

// writeTimeout bounds one gateway write, so a client that stopped reading
// cannot hold the fake's lock.
const writeTimeout = 5 * time.Second

// session is one gateway session of a bot: it outlives its connections, so
// a client can resume it, and remembers every dispatch to replay them.
type session struct {
	id    string
	seq   int64
	log   []frame
	conn  *gwConn // nil while the client is away
	ready bool    // READY or RESUMED was sent on conn
}

type frame struct {
	seq int64
	typ string
	raw []byte
}

// gwConn is one gateway WebSocket.
type gwConn struct {
	ws  *websocket.Conn
	wmu sync.Mutex
	bot *account // set by IDENTIFY or RESUME
}

type payload struct {
	Op   int             `json:"op"`
	Data json.RawMessage `json:"d"`
	Seq  *int64          `json:"s"`
	Type *string         `json:"t"`
}

func (c *gwConn) write(op int, typ string, seq int64, data any) error {
	d, err := json.Marshal(data)
	if err != nil {
		return err
	}
	p := payload{Op: op, Data: d}
	if op == opDispatch {
		p.Seq, p.Type = &seq, &typ
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return c.writeRaw(raw)
}

func (c *gwConn) writeRaw(raw []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	return c.ws.WriteMessage(websocket.TextMessage, raw)
}

// closeWith ends the connection with a close code, as Discord does for
// authentication failures.
func (c *gwConn) closeWith(code int, text string) {
	c.wmu.Lock()
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(writeTimeout))
	c.wmu.Unlock()
	c.ws.Close()
}

// serveGateway runs one gateway connection: HELLO, then the client's
// payloads until it goes.
func (s *Server) serveGateway(w http.ResponseWriter, r *http.Request) {
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &gwConn{ws: ws}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ws.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	interval := s.heartbeat
	s.mu.Unlock()
	defer s.wg.Done()
	defer s.hangUp(c)
	if c.write(opHello, "", 0, map[string]int{"heartbeat_interval": interval}) != nil {
		return
	}
	for {
		var p payload
		if err := ws.ReadJSON(&p); err != nil {
			return
		}
		switch p.Op {
		case opHeartbeat:
			s.mu.Lock()
			s.heartbeats++
			s.changed.Broadcast()
			skip := s.skipAcks > 0
			if skip {
				s.skipAcks--
			}
			s.mu.Unlock()
			if skip {
				continue
			}
			if c.write(opHeartbeatAck, "", 0, nil) != nil {
				return
			}
		case opIdentify:
			s.identify(c, p.Data)
		case opResume:
			s.resume(c, p.Data)
		}
	}
}

// hangUp forgets a connection that ended; its session stays resumable.
func (s *Server) hangUp(c *gwConn) {
	c.ws.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if c.bot != nil && c.bot.session != nil && c.bot.session.conn == c {
		c.bot.session.conn = nil
		c.bot.session.ready = false
	}
	s.changed.Broadcast()
}

func (s *Server) identify(c *gwConn, data []byte) {
	var p struct {
		Token   string           `json:"token"`
		Intents discordgo.Intent `json:"intents"`
	}
	json.Unmarshal(data, &p)
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.changed.Broadcast()
	s.identifies++
	b := s.bots[strings.TrimPrefix(p.Token, "Bot ")]
	if b == nil {
		c.closeWith(4004, "Authentication failed.")
		return
	}
	if old := b.session; old != nil && old.conn != nil && old.conn != c {
		old.conn.ws.Close() // one session per bot here (no sharding)
	}
	b.intents = p.Intents
	c.bot = b
	b.session = &session{id: s.newIDLocked(), conn: c}
	ready := map[string]any{
		"v":                  10,
		"user":               b.User,
		"session_id":         b.session.id,
		"resume_gateway_url": s.GatewayURL(),
		"guilds":             []any{},
		"private_channels":   []any{},
		"application":        map[string]string{"id": b.User.ID},
	}
	s.sendLocked(b, "READY", ready)
	b.session.ready = true
	backlog := b.backlog
	b.backlog = nil
	for _, ev := range backlog {
		s.deliverLocked(b, ev)
	}
}

func (s *Server) resume(c *gwConn, data []byte) {
	var p struct {
		Token     string `json:"token"`
		SessionID string `json:"session_id"`
		Seq       int64  `json:"seq"`
	}
	json.Unmarshal(data, &p)
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.changed.Broadcast()
	b := s.bots[strings.TrimPrefix(p.Token, "Bot ")]
	if b == nil {
		c.closeWith(4004, "Authentication failed.")
		return
	}
	sess := b.session
	if sess == nil || sess.id != p.SessionID {
		c.write(opInvalidSession, "", 0, false) // the client must identify anew
		return
	}
	s.resumes++
	if sess.conn != nil && sess.conn != c {
		sess.conn.ws.Close()
	}
	sess.conn, c.bot = c, b
	for _, f := range sess.log {
		if f.seq > p.Seq && f.typ != "READY" && f.typ != "RESUMED" {
			s.replayed++
			if c.writeRaw(f.raw) != nil {
				c.ws.Close()
				return
			}
		}
	}
	s.sendLocked(b, "RESUMED", map[string]any{})
	sess.ready = true
}

// sendLocked numbers a dispatch in the bot's session, remembers it for
// RESUME and writes it to the session's connection, if any.
func (s *Server) sendLocked(b *account, typ string, data any) {
	sess := b.session
	sess.seq++
	d, _ := json.Marshal(data)
	seq := sess.seq
	raw, _ := json.Marshal(payload{Op: opDispatch, Data: d, Seq: &seq, Type: &typ})
	sess.log = append(sess.log, frame{seq: seq, typ: typ, raw: raw})
	if sess.conn != nil {
		if err := sess.conn.writeRaw(raw); err != nil {
			sess.conn.ws.Close() // the client will resume and get it again
		}
	}
}

// event is something that happened on Discord, rendered for each bot by
// build (which may leave it out, for the bot's intents).
type event struct {
	typ   string
	build func(b *account) (any, bool)
}

// deliverLocked dispatches an event to a bot, or keeps it for the bot's
// next session.
func (s *Server) deliverLocked(b *account, ev event) {
	if b.session == nil {
		b.backlog = append(b.backlog, ev)
		return
	}
	if data, ok := ev.build(b); ok {
		s.sendLocked(b, ev.typ, data)
	}
}

// broadcastLocked delivers an event to every bot.
func (s *Server) broadcastLocked(ev event) {
	for _, b := range s.bots {
		s.deliverLocked(b, ev)
	}
	s.changed.Broadcast()
}

// DropConnection cuts every bot's gateway socket without a close frame, as
// a network failure would. Sessions stay valid: dispatches pushed meanwhile
// wait in them for the client's RESUME.
func (s *Server) DropConnection() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.bots {
		if sess := b.session; sess != nil && sess.conn != nil {
			sess.conn.ws.Close()
			sess.conn, sess.ready = nil, false
		}
	}
	s.changed.Broadcast()
}

// SkipHeartbeatAcks leaves the next n heartbeats unacknowledged, as a
// zombied connection would: a client should give up on the connection
// after a few missed ACKs and resume on a new one.
func (s *Server) SkipHeartbeatAcks(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skipAcks = n
}

// SendReconnect asks every connected bot to reconnect (op 7) and resume.
func (s *Server) SendReconnect() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.bots {
		if sess := b.session; sess != nil && sess.conn != nil {
			sess.conn.write(opReconnect, "", 0, nil)
		}
	}
}

// InvalidateSession ends every bot's session (op 9, not resumable): the
// client must identify again. Events pushed until it has are kept for its
// new session.
func (s *Server) InvalidateSession() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.bots {
		if sess := b.session; sess != nil {
			if sess.conn != nil {
				sess.conn.write(opInvalidSession, "", 0, false)
			}
			b.session = nil
		}
	}
	s.changed.Broadcast()
}

// Sequence returns the last dispatch sequence of the bot's session, 0 if
// it has none.
func (s *Server) Sequence(token string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.bots[token]; b != nil && b.session != nil {
		return b.session.seq
	}
	return 0
}

// String names the fake by its URL.
func (s *Server) String() string { return fmt.Sprintf("discordtest.Server(%s)", s.srv.URL) }

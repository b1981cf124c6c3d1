package discordtest_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/hubhq/hub/adapters/discord/discordtest"
)

const token = "fake-token-for-tests"

// seen collects the messages a session's handlers saw.
type seen struct {
	mu   sync.Mutex
	msgs []string
	ch   chan struct{}
}

func (s *seen) add(text string) {
	s.mu.Lock()
	s.msgs = append(s.msgs, text)
	s.mu.Unlock()
	select {
	case s.ch <- struct{}{}:
	default:
	}
}

func (s *seen) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		got := append([]string(nil), s.msgs...)
		s.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-s.ch:
		case <-deadline:
			t.Fatalf("saw %d of %d messages: %q", len(got), n, got)
		}
	}
}

// open connects a real discordgo session to the fake.
func open(t *testing.T, fake *discordtest.Server, tok string, intents discordgo.Intent) (*discordgo.Session, *seen) {
	t.Helper()
	s, err := discordgo.New("Bot " + tok)
	if err != nil {
		t.Fatal(err)
	}
	s.Client = fake.Client()
	s.Compress = false
	s.SyncEvents = true
	s.Identify.Intents = intents
	got := &seen{ch: make(chan struct{}, 1)}
	s.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageCreate) { got.add(m.Content) })
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, got
}

const allIntents = discordgo.IntentsGuildMessages | discordgo.IntentsDirectMessages | discordgo.IntentsMessageContent

func TestRESTAndGateway(t *testing.T) {
	t.Parallel()
	fake := discordtest.New(t)
	me := fake.AddBot(token, "echo_bot")
	s, got := open(t, fake, token, allIntents)
	if s.State.User == nil || s.State.User.ID != me.ID {
		t.Fatalf("READY user = %+v, want %+v", s.State.User, me)
	}
	u, err := s.User("@me")
	if err != nil || u.Username != "echo_bot" {
		t.Fatalf("User(@me) = %+v, %v", u, err)
	}
	in := fake.PushMessage("c1", "g1", "ada", "hello")
	fake.PushMessage("d1", "", "ada", "in a DM")
	if msgs := got.wait(t, 2); msgs[0] != "hello" || msgs[1] != "in a DM" {
		t.Fatalf("saw %q", msgs)
	}
	out, err := s.ChannelMessageSendReply("c1", "hi ada", in.Reference())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ChannelMessageEdit("c1", out.ID, "hi Ada"); err != nil {
		t.Fatal(err)
	}
	if err := s.MessageReactionAdd("c1", in.ID, "👍"); err != nil {
		t.Fatal(err)
	}
	if err := s.ChannelTyping("c1"); err != nil {
		t.Fatal(err)
	}
	sent := fake.WaitSent(t, "c1", 1)
	if m := sent[0]; m.Content != "hi Ada" || !m.Edited || m.ReplyTo != in.ID || m.Author.ID != me.ID {
		t.Fatalf("sent %+v", m)
	}
	if m, _ := fake.Message(in.ID); len(m.Reactions) != 1 || m.Reactions[0] != "👍" {
		t.Fatalf("reactions %q", m.Reactions)
	}
	if err := s.ChannelMessageDelete("c1", out.ID); err != nil {
		t.Fatal(err)
	}
	if m, _ := fake.Message(out.ID); !m.Deleted {
		t.Fatal("not deleted")
	}
	c, err := s.Channel("d1")
	if err != nil || c.Type != discordgo.ChannelTypeDM {
		t.Fatalf("Channel(d1) = %+v, %v", c, err)
	}
}

func TestWrongToken(t *testing.T) {
	t.Parallel()
	fake := discordtest.New(t)
	fake.AddBot(token, "echo_bot")
	s, _ := discordgo.New("Bot wrong")
	s.Client = fake.Client()
	var rest *discordgo.RESTError
	if _, err := s.User("@me"); !errors.As(err, &rest) || rest.Response.StatusCode != 401 {
		t.Fatalf("User(@me) with a wrong token: %v", err)
	}
	if err := s.Open(); err == nil {
		s.Close()
		t.Fatal("Open with a wrong token succeeded")
	}
}

func TestIntents(t *testing.T) {
	t.Parallel()
	fake := discordtest.New(t)
	fake.AddBot(token, "echo_bot")
	_, got := open(t, fake, token, discordgo.IntentsGuildMessages) // no content, no DMs
	fake.PushMessage("d1", "", "ada", "dm, not delivered")
	fake.PushMessage("c1", "g1", "ada", "secret")
	if msgs := got.wait(t, 1); msgs[0] != "" {
		t.Fatalf("content without MESSAGE_CONTENT: %q", msgs)
	}
	if fake.Intents(token) != discordgo.IntentsGuildMessages {
		t.Fatalf("intents %v", fake.Intents(token))
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	fake := discordtest.New(t)
	fake.AddBot(token, "echo_bot")
	s, _ := open(t, fake, token, allIntents)
	fake.PushMessage("c1", "g1", "ada", "hello")
	fake.FailNext("POST /channels/{id}/messages", 429, 300*time.Millisecond)
	_, err := s.ChannelMessageSend("c1", "x", discordgo.WithRetryOnRatelimit(false))
	var rl *discordgo.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 300*time.Millisecond {
		t.Fatalf("err = %v, want a RateLimitError of 300ms", err)
	}
	// discordgo's own bucket honours X-RateLimit-Reset-After.
	if _, err := s.ChannelMessageSend("c1", "y"); err != nil {
		t.Fatal(err)
	}
	if n := fake.FloodViolations(); n != 0 {
		t.Fatalf("%d flood violations", n)
	}
	reqs := fake.Requests("POST /channels/{id}/messages")
	if d := reqs[1].Time.Sub(reqs[0].Time); d < 300*time.Millisecond {
		t.Fatalf("second request %v after the 429", d)
	}
}

// TestResume drops, reconnects and invalidates the gateway around pushed
// messages: the real client sees each exactly once.
func TestResume(t *testing.T) {
	t.Parallel()
	fake := discordtest.New(t)
	fake.AddBot(token, "echo_bot")
	_, got := open(t, fake, token, allIntents)
	n := 0
	push := func(k int) {
		for range k {
			n++
			fake.PushMessage("c1", "g1", "ada", fmt.Sprint(n))
		}
	}
	push(3)
	got.wait(t, 3)
	fake.DropConnection()
	push(3)
	fake.WaitCount(t, "resumes", fake.Resumes, 1)
	push(2)
	got.wait(t, n)
	if fake.Replayed() < 3 {
		t.Fatalf("%d dispatches replayed, want at least the 3 pushed while disconnected", fake.Replayed())
	}
	fake.SendReconnect()
	push(3)
	fake.WaitCount(t, "resumes", fake.Resumes, 2)
	got.wait(t, n)
	fake.InvalidateSession()
	push(2)
	fake.WaitCount(t, "identifies", fake.Identifies, 2)
	msgs := got.wait(t, n)
	for i, m := range msgs {
		if m != fmt.Sprint(i+1) {
			t.Fatalf("messages seen: %q", msgs)
		}
	}
	if len(msgs) != n {
		t.Fatalf("saw %d messages, pushed %d: %q", len(msgs), n, msgs)
	}
}

func TestHeartbeats(t *testing.T) {
	t.Parallel()
	fake := discordtest.New(t)
	fake.AddBot(token, "echo_bot")
	// discordgo gives up after five intervals without an ACK: an interval
	// long enough for a loaded machine to answer in.
	fake.SetHeartbeatInterval(200 * time.Millisecond)
	open(t, fake, token, allIntents)
	// Acknowledged heartbeats keep the session: no reconnection.
	fake.WaitCount(t, "heartbeats", fake.Heartbeats, 4)
	if fake.Identifies() != 1 || fake.Resumes() != 0 {
		t.Fatalf("%d identifies, %d resumes; want 1, 0", fake.Identifies(), fake.Resumes())
	}
}

func TestMessageTooLong(t *testing.T) {
	t.Parallel()
	fake := discordtest.New(t)
	fake.AddBot(token, "echo_bot")
	s, _ := open(t, fake, token, allIntents)
	fake.PushMessage("c1", "g1", "ada", "hello")
	var rest *discordgo.RESTError
	if _, err := s.ChannelMessageSend("c1", strings.Repeat("x", discordtest.MaxContent+1)); !errors.As(err, &rest) || rest.Response.StatusCode != 400 {
		t.Fatalf("err = %v, want 400", err)
	}
}

func TestMissedHeartbeatAcksMakeTheClientResume(t *testing.T) {
	t.Parallel()
	fake := discordtest.New(t)
	fake.AddBot(token, "echo_bot")
	fake.SetHeartbeatInterval(20 * time.Millisecond)
	_, got := open(t, fake, token, allIntents)
	fake.PushMessage("c1", "g1", "ada", "1")
	got.wait(t, 1)
	fake.SkipHeartbeatAcks(20) // discordgo gives up after five intervals without an ACK
	fake.WaitCount(t, "resumes", fake.Resumes, 1)
	fake.PushMessage("c1", "g1", "ada", "2")
	if msgs := got.wait(t, 2); len(msgs) != 2 || msgs[1] != "2" {
		t.Fatalf("saw %q", msgs)
	}
}

func TestNonceMakesACreateIdempotent(t *testing.T) {
	t.Parallel()
	fake := discordtest.New(t)
	fake.AddBot(token, "echo_bot")
	fake.PushMessage("chan-1", "guild-1", "ada", "hello") // the channel exists
	s, err := discordgo.New("Bot " + token)
	if err != nil {
		t.Fatal(err)
	}
	s.Client = fake.Client()
	create := func(nonce string, enforce bool) (*discordgo.Message, error) {
		body := map[string]any{"content": "hi " + nonce, "nonce": nonce, "enforce_nonce": enforce}
		resp, err := s.RequestWithBucketID("POST", discordgo.EndpointChannelMessages("chan-1"), body, "create")
		if err != nil {
			return nil, err
		}
		var m discordgo.Message
		return &m, discordgo.Unmarshal(resp, &m)
	}
	first, err := create("n1", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		nonce   string
		enforce bool
		same    bool // the first message comes back
	}{
		{"n1", true, true},
		{"n1", false, false}, // without enforce_nonce a nonce is only echoed
		{"n2", true, false},
	} {
		m, err := create(tc.nonce, tc.enforce)
		if err != nil {
			t.Fatal(err)
		}
		if (m.ID == first.ID) != tc.same {
			t.Errorf("nonce %q, enforce %v: message %s, first %s; want the same: %v", tc.nonce, tc.enforce, m.ID, first.ID, tc.same)
		}
	}
	if _, err := create(strings.Repeat("x", 26), true); err == nil {
		t.Error("a 26-character nonce was taken")
	}
	if n, sent := fake.Deduplicated(), len(fake.Sent("chan-1")); n != 1 || sent != 3 {
		t.Fatalf("%d deduplicated, %d messages; want 1 and 3", n, sent)
	}
}

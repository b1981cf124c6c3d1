package redis

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/core/layer/layertest"
	"github.com/hubhq/hub/internal/poll"
)

// TestConsistentHash checks the shard choice against values computed with
// channels_redis' _consistent_hash (Python binascii.crc32) for 2, 3, 5 and 7
// hosts.
func TestConsistentHash(t *testing.T) {
	want := map[string][4]int{
		"chat_lobby":    {1, 1, 2, 3},
		"specific.abc!": {1, 2, 4, 6},
		"thumbnails":    {1, 2, 4, 6},
		"group-1":       {0, 0, 1, 1},
		"x":             {0, 1, 2, 2},
	}
	for name, w := range want {
		for i, n := range []int{2, 3, 5, 7} {
			if got := consistentHash(name, n); got != w[i] {
				t.Errorf("consistentHash(%q, %d) = %d, want %d", name, n, got, w[i])
			}
		}
		if consistentHash(name, 1) != 0 {
			t.Errorf("consistentHash(%q, 1) != 0", name)
		}
	}
}

func rawClient(t *testing.T, s *server) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: strings.TrimPrefix(strings.TrimSuffix(s.url(), "/0"), "redis://"), Protocol: 2})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestWireFormatOut checks what the hub writes against channels_redis'
// layout: keys, scores, TTLs, the random prefix and the msgpack body with
// __asgi_channel__ (a string from send, a list from group_send).
func TestWireFormatOut(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	l := newTestLayer(t, Options{Hosts: []string{s.url()}})
	defer l.Close()
	rdb := rawClient(t, s)
	django := "specific.0123456789abcdef0123456789abcdef!"

	if err := l.Send(ctx, django+"one", layer.Message{"type": "chat.message", "text": "hi"}); err != nil {
		t.Fatal(err)
	}
	if err := l.GroupAdd(ctx, "chat_lobby", django+"two"); err != nil {
		t.Fatal(err)
	}
	if err := l.GroupSend(ctx, "chat_lobby", layer.Message{"type": "chat.message", "text": "all"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Send(ctx, "thumbnails", layer.Message{"type": "thumb", "id": 7}); err != nil {
		t.Fatal(err)
	}

	zs, err := rdb.ZRangeWithScores(ctx, "asgi"+django, 0, -1).Result()
	if err != nil || len(zs) != 2 {
		t.Fatalf("ZRANGE asgi%s = %v, %v; want 2 members", django, zs, err)
	}
	for i, want := range []any{django + "one", []any{django + "two"}} {
		member := []byte(zs[i].Member.(string))
		var body map[string]any
		if err := msgpack.Unmarshal(member[prefixLen:], &body); err != nil {
			t.Fatalf("member %d is not 12 bytes + msgpack: %v", i, err)
		}
		if got := body[asgiChannel]; !reflect.DeepEqual(got, want) {
			t.Errorf("member %d __asgi_channel__ = %#v, want %#v", i, got, want)
		}
		if d := time.Since(time.Unix(0, int64(zs[i].Score*1e9))); d < 0 || d > 5*time.Second {
			t.Errorf("member %d score %f is not the send time", i, zs[i].Score)
		}
	}
	if ttl := rdb.TTL(ctx, "asgi"+django).Val(); ttl <= 0 || ttl > 60*time.Second {
		t.Errorf("channel TTL = %v, want the 60 s expiry", ttl)
	}
	if sc, err := rdb.ZScore(ctx, "asgi:group:chat_lobby", django+"two").Result(); err != nil || time.Since(time.Unix(int64(sc), 0)) > 5*time.Second {
		t.Errorf("group member score = %v, %v", sc, err)
	}
	if ttl := rdb.TTL(ctx, "asgi:group:chat_lobby").Val(); ttl <= 86000*time.Second {
		t.Errorf("group TTL = %v, want 86400 s", ttl)
	}
	if n := rdb.ZCard(ctx, "asgithumbnails").Val(); n != 1 {
		t.Errorf("ZCARD asgithumbnails = %d, want 1", n)
	}
}

// pythonPacked is what Python's msgpack.packb (use_bin_type, the default
// since msgpack 1.0) writes for
// {"type": "chat.message", "text": "hé", "bytes": b"\x00\x01", "n": 300,
// "f": 1.5, "__asgi_channel__": to}, written out by hand from the msgpack
// spec so the test does not trust this package's encoder.
func pythonPacked(to []byte) []byte {
	var b bytes.Buffer
	b.WriteByte(0x86)                        // fixmap, 6 pairs
	b.Write(append([]byte{0xa4}, "type"...)) // fixstr
	b.Write(append([]byte{0xac}, "chat.message"...))
	b.Write(append([]byte{0xa4}, "text"...))
	b.Write([]byte{0xa3, 'h', 0xc3, 0xa9}) // "hé", 3 UTF-8 bytes
	b.Write(append([]byte{0xa5}, "bytes"...))
	b.Write([]byte{0xc4, 0x02, 0x00, 0x01}) // bin 8
	b.Write(append([]byte{0xa1}, 'n'))
	b.Write([]byte{0xcd, 0x01, 0x2c}) // uint 16: 300
	b.Write(append([]byte{0xa1}, 'f'))
	b.Write([]byte{0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}) // float 64: 1.5
	b.Write(append([]byte{0xb0}, asgiChannel...))       // fixstr, 16
	b.Write(to)
	return b.Bytes()
}

func str8(s string) []byte { return append([]byte{0xd9, byte(len(s))}, s...) }

// TestWireFormatIn feeds the layer members shaped as channels_redis writes
// them: to a process-local channel (string and list __asgi_channel__) and
// to a fixed-name channel.
func TestWireFormatIn(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	l := newTestLayer(t, Options{Hosts: []string{s.url()}})
	defer l.Close()
	rdb := rawClient(t, s)
	a, _ := l.NewChannel(ctx, "specific")
	b, _ := l.NewChannel(ctx, "specific")
	set := "asgi" + nonLocalName(a)
	now := float64(time.Now().UnixMicro()) / 1e6
	prefix := bytes.Repeat([]byte{0xfe}, prefixLen)

	one := append(append([]byte(nil), prefix...), pythonPacked(str8(a))...)
	list := append([]byte{0x92}, append(str8(a), str8(b)...)...) // fixarray of 2
	both := append(append([]byte(nil), prefix...), pythonPacked(list)...)
	fixed := append(append([]byte(nil), prefix...), pythonPacked([]byte{0xc0})...) // nil
	rdb.ZAdd(ctx, set, goredis.Z{Score: now, Member: one}, goredis.Z{Score: now + 0.001, Member: both})
	rdb.ZAdd(ctx, "asgiworker", goredis.Z{Score: now, Member: fixed})

	check := func(ch string) {
		t.Helper()
		m, err := l.Receive(ctx, ch)
		if err != nil {
			t.Fatalf("Receive(%s): %v", ch, err)
		}
		if m.Type() != "chat.message" || m["text"] != "hé" || !bytes.Equal(m["bytes"].([]byte), []byte{0, 1}) ||
			m["n"] != int64(300) || m["f"] != 1.5 {
			t.Errorf("Receive(%s) = %#v", ch, m)
		}
		if _, ok := m[asgiChannel]; ok && ch != "worker" {
			t.Errorf("__asgi_channel__ leaked into the message")
		}
	}
	check(a)
	check(a)
	check(b)
	check("worker")
}

// TestFernetSpec checks the token format against the Fernet spec's
// generate vector (github.com/fernet/spec, generate.json).
func TestFernetSpec(t *testing.T) {
	secret, _ := base64.URLEncoding.DecodeString("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=")
	f := &multiFernet{keys: []fernetKey{{sign: secret[:16], crypt: secret[16:]}}}
	now, _ := time.Parse(time.RFC3339, "1985-10-26T01:20:00-07:00")
	const token = "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA=="
	plain, err := f.decrypt([]byte(token), time.Minute, now.Add(time.Second))
	if err != nil || string(plain) != "hello" {
		t.Fatalf("decrypt spec token = %q, %v", plain, err)
	}
	if _, err := f.decrypt([]byte(token), time.Minute, now.Add(2*time.Minute)); err == nil {
		t.Error("an expired token decrypted")
	}
	out, err := f.encrypt([]byte("hello"), now)
	if err != nil || !strings.HasPrefix(string(out), "gAAAAAAdwJ6w") {
		t.Fatalf("encrypt = %q, %v", out, err)
	}
	if plain, err := f.decrypt(out, 0, now); err != nil || string(plain) != "hello" {
		t.Fatalf("round trip = %q, %v", plain, err)
	}
}

// TestFernetPython cross-checks encryption with Python's cryptography
// package, channels_redis' own dependency, when it is installed.
func TestFernetPython(t *testing.T) {
	if exec.Command("python3", "-c", "import cryptography.fernet").Run() != nil {
		t.Skip("python3 with cryptography not available")
	}
	const key = "django secret"
	sum := sha256.Sum256([]byte(key))
	pyKey := base64.URLEncoding.EncodeToString(sum[:])
	f := newMultiFernet([]string{key})
	token, err := f.encrypt([]byte("from go"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	script := `import sys
from cryptography.fernet import Fernet
f = Fernet(sys.argv[1].encode())
assert f.decrypt(sys.argv[2].encode(), 70) == b"from go"
sys.stdout.write(f.encrypt(b"from python").decode())`
	out, err := exec.Command("python3", "-c", script, pyKey, string(token)).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	plain, err := f.decrypt(out, 70*time.Second, time.Now())
	if err != nil || string(plain) != "from python" {
		t.Fatalf("decrypt python token = %q, %v", plain, err)
	}
}

// TestCrossProcess runs two layers ("processes") on one Redis: a group send
// from one reaches a member channel made by the other, and so do direct
// sends both ways.
func TestCrossProcess(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	opts := Options{Hosts: []string{s.url()}, Layer: layertest.Options}
	a, b := newTestLayer(t, opts), newTestLayer(t, opts)
	defer a.Close()
	defer b.Close()
	chA, _ := a.NewChannel(ctx, "specific")
	chB, _ := b.NewChannel(ctx, "specific")
	group := layertest.Name("chat_room")
	for _, g := range []struct {
		l  *Layer
		ch string
	}{{a, chA}, {b, chB}} {
		if err := g.l.GroupAdd(ctx, group, g.ch); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.GroupSend(ctx, group, layer.Message{"type": "chat.message", "text": "hello room"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		l  *Layer
		ch string
	}{{a, chA}, {b, chB}} {
		m, err := r.l.Receive(ctx, r.ch)
		if err != nil || m["text"] != "hello room" {
			t.Fatalf("Receive(%s) = %v, %v", r.ch, m, err)
		}
	}
	if err := a.Send(ctx, chB, layer.Message{"type": "direct", "n": 1}); err != nil {
		t.Fatal(err)
	}
	if m, err := b.Receive(ctx, chB); err != nil || m.Type() != "direct" {
		t.Fatalf("direct send a→b = %v, %v", m, err)
	}
	if _, err := a.Receive(ctx, chB); err == nil {
		t.Error("a received on b's process-local channel")
	}
	if err := a.Send(ctx, "hub.worker", layer.Message{"type": "job"}); err != nil {
		t.Fatal(err)
	}
	if m, err := b.Receive(ctx, "hub.worker"); err != nil || m.Type() != "job" {
		t.Fatalf("fixed-name a→b = %v, %v", m, err)
	}
	// b is full for a: a's group send to b's full channel is counted, not an error.
	for i := range layertest.Options.Capacity {
		if err := b.Send(ctx, chB, layer.Message{"type": "fill", "n": i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.GroupSend(ctx, group, layer.Message{"type": "chat.message", "text": "again"}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, patience, "b counts the drop on its full channel", func() bool { return b.Stats().GroupDrop >= 1 })
}

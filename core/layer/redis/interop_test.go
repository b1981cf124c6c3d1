package redis

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/hubhq/hub/core/layer"
	"github.com/hubhq/hub/internal/servertest"
)

// pythonBinary is the system Python, where Debian's python3-channels-redis
// installs channels_redis.
const pythonBinary = "/usr/bin/python3"

// interopScript plays a Django process on the same Redis with the real
// channels_redis: it joins a group the hub sends to, reads a direct send,
// then sends to a hub channel, a hub group and a fixed-name channel.
const interopScript = `
import asyncio, json, sys
from channels_redis.core import RedisChannelLayer

hosts, hub_channel, keys = sys.argv[1].split(","), sys.argv[2], sys.argv[3:]

async def main():
    layer = RedisChannelLayer(hosts=hosts, symmetric_encryption_keys=keys or None)
    ch = await layer.new_channel()
    await layer.group_add("chat_lobby", ch)
    print("CH", ch, flush=True)
    got = []
    for _ in range(2):
        m = await asyncio.wait_for(layer.receive(ch), 10)
        got.append({k: (v.hex() if isinstance(v, bytes) else v) for k, v in m.items()})
    print("GOT", json.dumps(got, sort_keys=True), flush=True)
    await layer.send(hub_channel, {"type": "py.direct", "text": "from python", "raw": b"\x00\xff", "n": 300})
    await layer.group_send("hub_room", {"type": "py.group", "text": "to the room"})
    await layer.send("hub.worker", {"type": "py.job", "id": 7})
    print("DONE", flush=True)

asyncio.run(main())
`

// TestChannelsRedisInterop exchanges messages both ways with Python's
// channels_redis: plain, encrypted, and sharded over two hosts.
func TestChannelsRedisInterop(t *testing.T) {
	if err := exec.Command(pythonBinary, "-c", "import channels_redis.core").Run(); err != nil {
		servertest.Missing(t, "python3 with channels_redis (apt python3-channels-redis): %v", err)
	}
	a, b := startServer(t), startServer(t)
	for _, tc := range []struct {
		name  string
		hosts []string
		keys  []string
	}{
		{"plain", []string{a.url()}, nil},
		{"encrypted", []string{a.url()}, []string{"new secret", "old secret"}},
		{"sharded", []string{a.url(), b.url()}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.keys != nil && exec.Command(pythonBinary, "-c", "import cryptography.fernet").Run() != nil {
				t.Skip("python3-cryptography missing: channels_redis cannot encrypt")
			}
			interop(t, tc.hosts, tc.keys)
		})
	}
}

func interop(t *testing.T, hosts, keys []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*patience)
	defer cancel()
	l := newTestLayer(t, Options{Hosts: hosts, SymmetricEncryptionKeys: keys})
	defer l.Close()
	hubCh, _ := l.NewChannel(ctx, "specific")
	if err := l.GroupAdd(ctx, "hub_room", hubCh); err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(ctx, pythonBinary, append([]string{"-c", interopScript, strings.Join(hosts, ","), hubCh}, keys...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := cmd.Wait(); err != nil {
			t.Errorf("python: %v\n%s", err, stderr.String())
		}
	}()
	lines := bufio.NewScanner(out)
	next := func(tag string) string {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("python ended before %s:\n%s", tag, stderr.String())
		}
		word, rest, _ := strings.Cut(lines.Text(), " ")
		if word != tag {
			t.Fatalf("python said %q, want %s", lines.Text(), tag)
		}
		return rest
	}

	pyCh := next("CH")
	if err := l.GroupSend(ctx, "chat_lobby", layer.Message{"type": "chat.message", "text": "from go ✓", "bytes": []byte{1, 2}, "n": 300}); err != nil {
		t.Fatal(err)
	}
	if err := l.Send(ctx, pyCh, layer.Message{"type": "go.direct", "list": []any{"a", 1}}); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(next("GOT")), &got); err != nil {
		t.Fatal(err)
	}
	want := `[{"bytes":"0102","n":300,"text":"from go ✓","type":"chat.message"},{"list":["a",1],"type":"go.direct"}]`
	if b, _ := json.Marshal(got); string(b) != want {
		t.Errorf("channels_redis received %s\nwant %s", b, want)
	}
	next("DONE")

	// Either order: sharded, channels_redis puts its direct send and its
	// group send for one process-local channel on different hosts (it hashes
	// the whole name for one and the part before '!' for the other), and the
	// hub drains each host on its own. FIFO on one host is layertest's job.
	got2 := map[string]layer.Message{}
	for range 2 {
		m, err := l.Receive(ctx, hubCh)
		if err != nil {
			t.Fatalf("hub receive: %v", err)
		}
		got2[m.Type()] = m
	}
	if m := got2["py.direct"]; m == nil || m["text"] != "from python" || !bytes.Equal(m["raw"].([]byte), []byte{0, 255}) || m["n"] != int64(300) {
		t.Errorf("hub received %#v, want the direct message", got2)
	}
	if got2["py.group"] == nil {
		t.Errorf("hub received %#v, want the group message", got2)
	}
	if m, err := l.Receive(ctx, "hub.worker"); err != nil || m.Type() != "py.job" || m["id"] != int64(7) {
		t.Errorf("hub worker received %#v, %v", m, err)
	}
}

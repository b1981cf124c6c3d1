package telegram

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubhq/hub/adapters/telegram/telegramtest"
)

// fakeEnv, set in the test binary's environment, makes it the fake Bot API
// ("<updates> <chats>") instead of running benchmarks: see TestMain.
const fakeEnv = "HUB_BENCH_TELEGRAM_FAKE"

func TestMain(m *testing.M) {
	if spec := os.Getenv(fakeEnv); spec != "" {
		os.Exit(serveFake(spec))
	}
	os.Exit(m.Run())
}

// serveFake is the child process: it starts the fake with the updates
// queued, writes its URL, then answers one command a line on stdin until
// stdin ends — "cpu" (its own user+system time, ns), "calls" (sendMessage
// calls so far), "replies" (the echo replies in its chat logs).
func serveFake(spec string) int {
	var n, chats int
	if _, err := fmt.Sscan(spec, &n, &chats); err != nil {
		fmt.Fprintln(os.Stderr, "bad", fakeEnv, spec, err)
		return 2
	}
	fake := telegramtest.Start()
	defer fake.Close()
	tg := fake.AddBot(token, "bench_bot")
	tg.KeepRequests(false) // counted (Calls), not kept: the fake's own cost stays small
	for i := range n {
		chat := int64(1 + i%chats)
		tg.PushMessage(chat, fmt.Sprint("user", chat), fmt.Sprint("m", i))
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, fake.URL())
	out.Flush()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "cpu":
			fmt.Fprintln(out, int64(cpuTime()))
		case "calls":
			fmt.Fprintln(out, tg.Calls("sendMessage"))
		case "replies":
			fmt.Fprintln(out, replies(tg, chats))
		default:
			fmt.Fprintln(out, "?")
		}
		out.Flush()
	}
	return 0
}

// fakeProc is the fake Bot API in a child process (this test binary again),
// so that the process's CPU time is the client's alone.
type fakeProc struct {
	cmd *exec.Cmd
	in  *os.File
	out *bufio.Scanner
	url string
}

// startFake starts the child with n updates over chats queued.
func startFake(b *testing.B, n, chats int) *fakeProc {
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d %d", fakeEnv, n, chats))
	cmd.Stderr = os.Stderr
	inR, inW, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdin, cmd.Stdout = inR, outW
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	inR.Close()
	outW.Close()
	f := &fakeProc{cmd: cmd, in: inW, out: bufio.NewScanner(outR)}
	b.Cleanup(func() {
		f.in.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		outR.Close()
	})
	if !f.out.Scan() {
		b.Fatalf("the fake did not start: %v", f.out.Err())
	}
	f.url = f.out.Text()
	return f
}

// ask sends a command and returns its answer.
func (f *fakeProc) ask(b *testing.B, cmd string) int64 {
	if _, err := fmt.Fprintln(f.in, cmd); err != nil {
		b.Fatal(err)
	}
	if !f.out.Scan() {
		b.Fatalf("the fake did not answer %q: %v", cmd, f.out.Err())
	}
	v, err := strconv.ParseInt(strings.TrimSpace(f.out.Text()), 10, 64)
	if err != nil {
		b.Fatalf("the fake answered %q with %q", cmd, f.out.Text())
	}
	return v
}

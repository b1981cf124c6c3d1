package witness

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The witness's own test: a "hub" (this test binary run again) writes to
// two connections, drops one, prints what it wrote and is SIGKILLed; the
// journal must then hold the kernel's count for the one it kept.
const (
	childJournalEnv = "HUB_WITNESS_TEST_JOURNAL"
	childAddrEnv    = "HUB_WITNESS_TEST_ADDR"
)

func TestMain(m *testing.M) {
	if journal := os.Getenv(childJournalEnv); journal != "" {
		hub(journal, os.Getenv(childAddrEnv))
	}
	os.Exit(m.Run())
}

// hub is the child: it never returns, it is killed.
func hub(journal, addr string) {
	w, err := Start(journal)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	kept, _ := dialAndKeep(w, addr, 1000)
	dropped, key := dialAndKeep(w, addr, 10)
	w.Drop(key)
	dropped.Close()
	n, err := Written(raw(kept))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("kept", kept.LocalAddr(), n, "dropped", key)
	select {}
}

func dialAndKeep(w *Witness, addr string, size int) (net.Conn, string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		panic(err)
	}
	key, err := w.Keep(raw(c))
	if err != nil {
		panic(err)
	}
	if _, err := c.Write(make([]byte, size)); err != nil {
		panic(err)
	}
	return c, key
}

func raw(c net.Conn) syscall.RawConn {
	r, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		panic(err)
	}
	return r
}

func TestWitnessReportsTheCountOfAKilledHub(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the witness is Linux's")
	}
	journal := filepath.Join(t.TempDir(), "hub.db-calls")
	if err := os.WriteFile(journal, []byte("W 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // the peer reads everything, as a platform would
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, c) //nolint:errcheck
		}
	}()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childJournalEnv+"="+journal, childAddrEnv+"="+ln.Addr().String())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var local string
	var n int64
	var dropped string
	if _, err := fmt.Sscanf(line, "kept %s %d dropped %s", &local, &n, &dropped); err != nil {
		t.Fatalf("child said %q: %v", line, err)
	}
	if n != 1001 { // 1,000 bytes and the SYN
		t.Errorf("Written = %d, want 1001", n)
	}
	cmd.Process.Kill() //nolint:errcheck
	cmd.Wait()         //nolint:errcheck // killed
	if !Wait(journal, 10*time.Second) {
		t.Fatal("the witness is still alive 10 s after the hub died")
	}
	data, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 2 || lines[0] != "W 1" {
		t.Fatalf("journal %q: want the hub's line and one of the witness's", data)
	}
	key, got, ok := ParseLine(lines[1])
	if !ok || got != n || key == dropped {
		t.Errorf("witness line %q: want the kept connection with %d bytes", lines[1], n)
	}
}

func TestWitnessReportsOnACleanClose(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the witness is Linux's")
	}
	journal := filepath.Join(t.TempDir(), "hub.db-calls")
	if err := os.WriteFile(journal, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := Start(journal)
	if err != nil {
		t.Fatal(err)
	}
	if Wait(journal, 10*time.Millisecond) {
		t.Error("Wait did not wait for a live witness")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, key := dialAndKeep(w, ln.Addr().String(), 5)
	defer c.Close()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !Wait(journal, time.Second) {
		t.Fatal("the witness outlived Close")
	}
	data, _ := os.ReadFile(journal)
	if want := Line(key, 6); string(data) != want {
		t.Errorf("journal %q, want %q", data, want)
	}
	if _, err := w.Keep(raw(c)); err == nil {
		t.Error("Keep after Close did not fail")
	}
}

func TestParseLine(t *testing.T) {
	if key, n, ok := ParseLine(strings.TrimSuffix(Line("12.3", 77), "\n")); !ok || key != "12.3" || n != 77 {
		t.Errorf("round trip: %q %d %v", key, n, ok)
	}
	for _, bad := range []string{"C", "C 1", "C  5", "C a b", "W 1", "C a 1 2"} {
		if _, _, ok := ParseLine(bad); ok {
			t.Errorf("ParseLine(%q) accepted", bad)
		}
	}
}

package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The services tests start for themselves, each on a free loopback port,
// the way core/layer/redis, core/layer/nats and adapters/mqtt test.
const (
	redisBinary     = "/usr/bin/redis-server"
	natsBinary      = "/usr/sbin/nats-server"
	mosquittoBinary = "/usr/sbin/mosquitto"
	mosquittoPub    = "/usr/bin/mosquitto_pub"
	mosquittoSub    = "/usr/bin/mosquitto_sub"
)

// need returns path, or skips the test without it (fails it with CI=true).
func need(t *testing.T, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI: %v", path, err)
		}
		t.Skipf("%s not installed: %v", path, err)
	}
	return path
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// service runs a server binary until the test ends, once ready says it
// answers on port.
func service(t *testing.T, port int, ready func(net.Conn) bool, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-exited:
			t.Fatalf("%s exited at start", bin)
		default:
		}
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second); err == nil {
			c.SetDeadline(time.Now().Add(time.Second))
			ok := ready(c)
			c.Close()
			if ok {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s on port %d not ready within %v", bin, port, startTimeout)
		}
		<-time.After(20 * time.Millisecond) // polling with a deadline
	}
}

// startRedis returns the URL of a fresh redis-server.
func startRedis(t *testing.T) string {
	t.Helper()
	return startRedisAuth(t, "")
}

// startRedisAuth starts a redis-server that wants password (none if ""),
// and returns its URL with the password in it.
func startRedisAuth(t *testing.T, password string) string {
	t.Helper()
	bin := need(t, redisBinary)
	port := freePort(t)
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", t.TempDir(),
		"--save", "", "--appendonly", "no", "--daemonize", "no"}
	userinfo := ""
	if password != "" {
		args = append(args, "--requirepass", password)
		userinfo = ":" + password + "@"
	}
	service(t, port, func(c net.Conn) bool {
		c.Write([]byte("PING\r\n"))
		line, err := bufio.NewReader(c).ReadString('\n')
		// Without the password the server still answers, with NOAUTH.
		return err == nil && (line == "+PONG\r\n" || strings.HasPrefix(line, "-NOAUTH"))
	}, bin, args...)
	return fmt.Sprintf("redis://%s127.0.0.1:%d/0", userinfo, port)
}

// startNATS returns the URL of a fresh nats-server.
func startNATS(t *testing.T) string {
	t.Helper()
	bin := need(t, natsBinary)
	port := freePort(t)
	service(t, port, func(c net.Conn) bool {
		line, err := bufio.NewReader(c).ReadString('\n')
		return err == nil && strings.HasPrefix(line, "INFO ")
	}, bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port))
	return fmt.Sprintf("nats://127.0.0.1:%d", port)
}

// startMosquitto returns the port of a fresh mosquitto with anonymous access.
func startMosquitto(t *testing.T) int {
	t.Helper()
	bin := need(t, mosquittoBinary)
	need(t, mosquittoPub)
	need(t, mosquittoSub)
	port := freePort(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nlog_type error\nlog_type warning\n", port)
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		conf += "user root\n" // else it drops to user mosquitto
	}
	path := filepath.Join(t.TempDir(), "mosquitto.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	service(t, port, func(net.Conn) bool { return true }, bin, "-c", path)
	return port
}

package servertest

import (
	"bufio"
	"fmt"
	"net"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// The clients the MQTT tests publish and subscribe with, as devices would.
const (
	MosquittoPub = "/usr/bin/mosquitto_pub"
	MosquittoSub = "/usr/bin/mosquitto_sub"
)

// Redis is a redis-server that keeps nothing on disk, with args added to
// its command line (such as "--requirepass", password). It is ready when it
// answers PING, with PONG or, wanting a password, NOAUTH.
func Redis(args ...string) Spec {
	return Spec{
		Binary: "/usr/bin/redis-server",
		Args: func(port int, dir string) []string {
			return append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
				"--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no"}, args...)
		},
		Ready: func(c net.Conn, r *bufio.Reader) bool {
			if _, err := c.Write([]byte("PING\r\n")); err != nil {
				return false
			}
			line, err := r.ReadString('\n')
			return err == nil && (line == "+PONG\r\n" || strings.HasPrefix(line, "-NOAUTH"))
		},
	}
}

// NATS is a nats-server that stores in its directory, with args added to
// its command line (such as "-js"). It is ready when it sends its INFO
// greeting.
func NATS(args ...string) Spec {
	return Spec{
		Binary: "/usr/sbin/nats-server",
		Args: func(port int, dir string) []string {
			return append([]string{"-a", "127.0.0.1", "-p", strconv.Itoa(port), "-sd", dir}, args...)
		},
		Ready: func(_ net.Conn, r *bufio.Reader) bool {
			line, err := r.ReadString('\n')
			return err == nil && strings.HasPrefix(line, "INFO ")
		},
	}
}

// Mosquitto is a mosquitto broker that lets anyone in, with lines added to
// its configuration (such as "persistence true", which keeps its state in
// its directory). It is ready when it accepts a connection, and stops with
// SIGTERM, which saves its state.
func Mosquitto(lines ...string) Spec {
	return Spec{
		Binary: "/usr/sbin/mosquitto",
		Config: func(port int, dir string) string {
			conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence_location %s/\n"+
				"log_type error\nlog_type warning\n", port, dir)
			if u, err := user.Current(); err == nil && u.Uid == "0" {
				conf += "user root\n" // else it drops to user mosquitto, who cannot write the temp dir
			}
			return conf + strings.Join(lines, "\n") + "\n"
		},
		Args: func(_ int, dir string) []string { return []string{"-c", filepath.Join(dir, ConfigFile)} },
		Stop: syscall.SIGTERM,
	}
}

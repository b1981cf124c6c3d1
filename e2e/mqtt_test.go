package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubhq/hub/internal/servertest"
)

// TestMQTT runs a hub whose e2e-republish consumer answers every message
// under in/# with the same payload under echo/in/#: mosquitto_pub in,
// mosquitto_sub out. Once through mosquitto, once through the hub's
// embedded broker.
func TestMQTT(t *testing.T) {
	t.Run("mosquitto", func(t *testing.T) {
		port := startMosquitto(t)
		testRepublish(t, port, fmt.Sprintf(`
mqtt:
  - name: home
    url: tcp://127.0.0.1:%d
    client_id: hub-e2e
    clean_session: true
routes:
  mqtt:
    - {broker: home, topic: "in/#", consumer: e2e-republish}
`, port))
	})
	t.Run("embedded", func(t *testing.T) {
		servertest.Need(t, servertest.MosquittoPub)
		servertest.Need(t, servertest.MosquittoSub)
		port := servertest.FreePort(t)
		testRepublish(t, port, fmt.Sprintf(`
mqtt_broker: 127.0.0.1:%d
routes:
  mqtt:
    - {broker: local, topic: "in/{rest...}", consumer: e2e-republish}
`, port))
	})
}

func testRepublish(t *testing.T, port int, yaml string) {
	dir := t.TempDir()
	h := startProcess(t, plusBin, writeConfig(t, dir, "listen: 127.0.0.1:0\nstore: ./hub.db\n"+yaml), listeningRE, "run")
	out := subscribe(t, port, "echo/#")

	// The hub subscribes in the background: probe until the echo flows.
	deadline := time.Now().Add(startTimeout)
	for probed := false; !probed; {
		if time.Now().After(deadline) {
			t.Fatalf("no echo of in/probe within %v\n%s", startTimeout, h.Logs())
		}
		publish(t, port, "in/probe", "ping")
		select {
		case line := <-out:
			probed = line == "echo/in/probe ping"
		case <-time.After(500 * time.Millisecond):
		}
	}
	publish(t, port, "in/kitchen/temperature", "21.5")
	for {
		select {
		case line := <-out:
			if line == "echo/in/probe ping" { // a late answer to a probe
				continue
			}
			if line != "echo/in/kitchen/temperature 21.5" {
				t.Fatalf("mosquitto_sub got %q", line)
			}
		case <-time.After(readTimeout):
			t.Fatalf("no echo of in/kitchen/temperature\n%s", h.Logs())
		}
		break
	}

	resp, err := http.Get("http://" + h.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `hub_scopes_opened_total{protocol="mqtt"}`) {
		t.Errorf("/metrics lacks the mqtt runtime")
	}
	if code := h.Stop(); code != 0 {
		t.Errorf("exit code %d after SIGTERM\n%s", code, h.Logs())
	}
}

// subscribe runs mosquitto_sub on filter until the test ends; its lines
// ("topic payload") arrive on the channel.
func subscribe(t *testing.T, port int, filter string) <-chan string {
	t.Helper()
	cmd := exec.Command(servertest.MosquittoSub, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-q", "1", "-v", "-t", filter)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		cmd.Wait()
	})
	return lines
}

// publish sends one message at QoS 1 with mosquitto_pub, as a device would.
func publish(t *testing.T, port int, topic, payload string) {
	t.Helper()
	out, err := exec.Command(servertest.MosquittoPub, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-q", "1", "-t", topic, "-m", payload).CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_pub: %v: %s", err, out)
	}
}

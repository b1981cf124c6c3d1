package e2e

import (
	"fmt"
	"testing"

	"github.com/hubhq/hub/internal/servertest"
)

// The services tests start for themselves, each on a free loopback port,
// with internal/servertest, as core/layer/redis, core/layer/nats and
// adapters/mqtt test. Without one installed a test skips, in CI it fails.

// startRedis returns the URL of a fresh redis-server.
func startRedis(t *testing.T) string {
	t.Helper()
	return startRedisAuth(t, "")
}

// startRedisAuth starts a redis-server that wants password (none if ""),
// and returns its URL with the password in it.
func startRedisAuth(t *testing.T, password string) string {
	t.Helper()
	var args []string
	userinfo := ""
	if password != "" {
		args = []string{"--requirepass", password}
		userinfo = ":" + password + "@"
	}
	s := servertest.Start(t, servertest.Redis(args...))
	return fmt.Sprintf("redis://%s%s/0", userinfo, s.Addr())
}

// startNATS returns the URL of a fresh nats-server.
func startNATS(t *testing.T) string {
	t.Helper()
	return "nats://" + servertest.Start(t, servertest.NATS()).Addr()
}

// startMosquitto returns the port of a fresh mosquitto with anonymous access.
func startMosquitto(t *testing.T) int {
	t.Helper()
	servertest.Need(t, servertest.MosquittoPub)
	servertest.Need(t, servertest.MosquittoSub)
	return servertest.Start(t, servertest.Mosquitto()).Port
}

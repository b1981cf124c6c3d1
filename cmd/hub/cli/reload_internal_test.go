package cli

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/hubhq/hub/config"
)

// TestReloadDefaults: a hub running the built-in defaults has no file to
// read again, and says so instead of reloading.
func TestReloadDefaults(t *testing.T) {
	var logs strings.Builder
	reload(nil, config.DefaultFile, slog.New(slog.NewTextHandler(&logs, nil)))
	if !strings.Contains(logs.String(), "no config file to read again") {
		t.Errorf("log: %s", logs.String())
	}
}

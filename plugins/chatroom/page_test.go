package chatroom_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/hubhq/hub/plugins"
	_ "github.com/hubhq/hub/plugins/chatroom" // registers "chatroom"
)

func TestPage(t *testing.T) {
	page, ok := plugins.Handler("chatroom")
	if !ok {
		t.Fatal(`no "chatroom" page registered`)
	}
	rec := httptest.NewRecorder()
	page.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	body := rec.Body.String()
	for _, id := range []string{"room", "user", "join", "message", "send", "log"} {
		if !strings.Contains(body, `id="`+id+`"`) {
			t.Errorf("page has no #%s", id)
		}
	}
	if regexp.MustCompile(`(src|href)="(https?:)?//`).MatchString(body) {
		t.Error("page loads an external asset")
	}
	// The CSP's script hash must be the hash of the page's inline script,
	// or browsers would refuse to run it.
	script := body[strings.Index(body, "<script>")+len("<script>") : strings.Index(body, "</script>")]
	sum := sha256.Sum256([]byte(script))
	want := "script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, want) {
		t.Errorf("CSP %q lacks %q", csp, want)
	}
}

func TestPageRefusals(t *testing.T) {
	page, _ := plugins.Handler("chatroom")
	tests := []struct {
		method, path string
		code         int
	}{
		{"GET", "/index.html", http.StatusOK},
		{"HEAD", "/", http.StatusOK},
		{"GET", "/other", http.StatusNotFound},
		{"POST", "/", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		page.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.code {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, rec.Code, tt.code)
		}
	}
}

func TestRegisteredConsumerTakesOptions(t *testing.T) {
	if _, err := plugins.New("chatroom", plugins.Options{"history": 10, "max_message": 100}); err != nil {
		t.Fatal(err)
	}
	if _, err := plugins.New("chatroom", plugins.Options{"histroy": 10}); err == nil {
		t.Fatal("a misspelt option was accepted")
	}
}

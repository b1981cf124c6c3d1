package telegramtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a fake Bot API server hosting any number of bots.
type Server struct {
	srv       *httptest.Server
	ctx       context.Context // ends at Close: stops webhook deliveries
	cancel    context.CancelFunc
	deliverer sync.WaitGroup
	closeOnce sync.Once

	mu      sync.Mutex
	bots    map[string]*Bot // by token
	changed chan struct{}   // closed and replaced on every change
}

// New starts a fake server, closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{bots: make(map[string]*Bot), changed: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(s.Close)
	return s
}

// URL is the server's base URL, what the client would call
// https://api.telegram.org.
func (s *Server) URL() string { return s.srv.URL }

// Close shuts the server down, like an outage: calls then fail to connect.
// It waits for requests in progress, a long poll included. New registers it
// with the test's cleanup, so calling it is only needed mid-test.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		s.srv.Close()
		s.deliverer.Wait()
	})
}

// AddBot registers a bot. Its id is the number before the token's colon, as
// in a real token ("123456:ABC…").
func (s *Server) AddBot(token, username string) *Bot {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := newBot(s, token, username)
	s.bots[token] = b
	return b
}

// notify wakes every waiter (long polls, WaitSent). Callers hold s.mu.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// wait returns a channel closed at the next change. Callers hold s.mu.
func (s *Server) wait() <-chan struct{} { return s.changed }

// apiError is a failed call, answered as Telegram does.
type apiError struct {
	Code        int
	Description string
	RetryAfter  int
}

func (e *apiError) Error() string { return e.Description }

func badRequest(format string, args ...any) *apiError {
	return &apiError{Code: http.StatusBadRequest, Description: "Bad Request: " + fmt.Sprintf(format, args...)}
}

func tooManyRequests(retryAfter int) *apiError {
	return &apiError{Code: http.StatusTooManyRequests, Description: fmt.Sprintf("Too Many Requests: retry after %d", retryAfter), RetryAfter: retryAfter}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	token, method, ok := splitPath(r.URL.Path)
	if !ok {
		writeError(w, &apiError{Code: http.StatusNotFound, Description: "Not Found"})
		return
	}
	s.mu.Lock()
	b := s.bots[token]
	s.mu.Unlock()
	if b == nil {
		writeError(w, &apiError{Code: http.StatusUnauthorized, Description: "Unauthorized"})
		return
	}
	params, err := parseParams(r)
	if err != nil {
		writeError(w, badRequest("%v", err))
		return
	}
	result, aerr := b.call(r, method, params)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": result})
}

// splitPath reads "/bot<token>/<method>".
func splitPath(p string) (token, method string, ok bool) {
	rest, ok := strings.CutPrefix(p, "/bot")
	if !ok {
		return "", "", false
	}
	token, method, ok = strings.Cut(rest, "/")
	return token, method, ok && token != "" && method != "" && !strings.Contains(method, "/")
}

func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"ok": false, "error_code": e.Code, "description": e.Description}
	if e.RetryAfter > 0 {
		body["parameters"] = map[string]any{"retry_after": e.RetryAfter}
	}
	writeJSON(w, e.Code, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// params are a request's parameters as strings, the form every encoding
// shares: JSON values that are not strings keep their JSON text, as
// multipart clients send nested objects ("reply_parameters").
type params map[string]string

func parseParams(r *http.Request) (params, error) {
	p := params{}
	for k, v := range r.URL.Query() {
		p[k] = v[0]
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var body map[string]json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return nil, fmt.Errorf("can't parse JSON object: %v", err)
		}
		for k, raw := range body {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				p[k] = s
			} else {
				p[k] = string(raw)
			}
		}
	case "multipart/form-data":
		// An empty body (a call without parameters) is no parts at all.
		if err := r.ParseMultipartForm(32 << 20); errors.Is(err, io.EOF) {
			return p, nil
		} else if err != nil {
			return nil, fmt.Errorf("can't parse multipart form: %v", err)
		}
		for k, v := range r.MultipartForm.Value {
			p[k] = v[0]
		}
		for k, f := range r.MultipartForm.File {
			p[k] = "attach://" + f[0].Filename
		}
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return nil, fmt.Errorf("can't parse form: %v", err)
		}
		for k, v := range r.PostForm {
			p[k] = v[0]
		}
	}
	return p, nil
}

// secondsUntil converts a retry deadline to Telegram's whole seconds, rounded up.
func secondsUntil(t, now time.Time) int {
	d := t.Sub(now)
	return int((d + time.Second - 1) / time.Second)
}

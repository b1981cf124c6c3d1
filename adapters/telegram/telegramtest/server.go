package telegramtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
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
	changed chan struct{}   // closed at the next change; nil while no one waits
}

// New starts a fake server, closed when the test ends.
func New(t testing.TB) *Server {
	s := Start()
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake server outside a test, such as one a benchmark runs in
// a process of its own (so that its CPU is counted apart from the client's).
// The caller closes it.
func Start() *Server {
	s := &Server{bots: make(map[string]*Bot)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
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
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// wait returns a channel closed at the next change. Callers hold s.mu.
func (s *Server) wait() <-chan struct{} {
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	return s.changed
}

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
	writeJSON(w, http.StatusOK, answer{OK: true, Result: result})
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

// answer is the envelope of a successful call.
type answer struct {
	OK     bool `json:"ok"`
	Result any  `json:"result"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"ok":false,"error_code":500,"description":"Internal Server Error"}`)
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(body) + 1)}
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
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
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	switch strings.ToLower(strings.TrimSpace(ct)) {
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
		if err := readMultipart(r, p); err != nil {
			return nil, fmt.Errorf("can't parse multipart form: %v", err)
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

// readMultipart reads a multipart body's fields into p, part by part (a
// file as "attach://<its name>"), without keeping the form
// (Request.ParseMultipartForm), which for small calls costs more than the
// call. The first value of a field counts. An empty body (a call without
// parameters) is no parts at all.
func readMultipart(r *http.Request, p params) error {
	mr, err := r.MultipartReader()
	if err != nil {
		return err
	}
	form := make(map[string]bool)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := part.FormName()
		if name == "" || form[name] {
			continue
		}
		form[name] = true
		if file := part.FileName(); file != "" {
			p[name] = "attach://" + file
			continue
		}
		value, err := io.ReadAll(io.LimitReader(part, maxField+1))
		if err != nil {
			return err
		}
		if len(value) > maxField {
			return fmt.Errorf("field %s too long", name)
		}
		p[name] = string(value)
	}
}

// maxField bounds a multipart field that is not a file.
const maxField = 1 << 20

// secondsUntil converts a retry deadline to Telegram's whole seconds, rounded up.
func secondsUntil(t, now time.Time) int {
	d := t.Sub(now)
	return int((d + time.Second - 1) / time.Second)
}

// Package fakeslack is a fake Slack Web API for tests and benchmarks. It
// speaks Slack's wire format (form-encoded or JSON requests, token as
// "Authorization: Bearer" or a "token" field, JSON answers, errors as HTTP
// 200 {"ok":false,"error":…}, HTTP 429 with Retry-After, 5xx) for
// chat.postMessage (threads included), chat.update, conversations.list,
// auth.test and oauth.v2.access, serves an OAuth authorize page like
// slack.com's, and records what it was sent so that tests can count
// messages and assert on timing. It knows nothing about auditfwd's routing
// or message layout. `go run ./cmd/fakeslack` starts one for people.
//
// It does not import "testing": other packages' tests and the benchmark
// command use it alike.
package fakeslack

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is a running fake Slack.
type Server struct {
	URL string // base API URL with a trailing "/", e.g. http://127.0.0.1:PORT/api/

	srv      *http.Server
	served   chan struct{}
	closing  chan struct{}
	handlers sync.WaitGroup

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every state change
	closed   bool
	tokens   map[string]*tokenInfo
	channels map[string]*channel
	order    []string // channel IDs in the order added
	rate     time.Duration
	lastPost map[string]time.Time
	mode     Mode
	failNext map[string][]string
	codes    map[string]*oauthCode

	clientID, clientSecret string
	checkClient            bool
	redirectURI            string
	checkRedirect          bool

	posts    []Post
	attempts []Attempt
	seq      int
	msgs     messages      // threads.go
	latency  time.Duration // threads.go: SetAnswerLatency
}

// Start starts a fake Slack on 127.0.0.1 with a random port.
func Start() (*Server, error) { return Listen("127.0.0.1:0") }

// Listen starts a fake Slack on addr (host:port).
func Listen(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fakeslack: %w", err)
	}
	s := &Server{
		URL:      "http://" + ln.Addr().String() + "/api/",
		served:   make(chan struct{}),
		closing:  make(chan struct{}),
		changed:  make(chan struct{}),
		tokens:   map[string]*tokenInfo{},
		channels: map[string]*channel{},
		lastPost: map[string]time.Time{},
		failNext: map[string][]string{},
		codes:    map[string]*oauthCode{},
	}
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Close stops the server and waits for every request handler, hung ones
// included, to return.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.closing)
	s.mu.Unlock()
	_ = s.srv.Close()
	<-s.served
	s.handlers.Wait()
}

// notifyLocked wakes everyone waiting for a change. Call with s.mu held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

package fakeslack

import (
	"context"
	"net/url"
	"time"
)

// Attempt is one request of any kind, recorded when it arrives. Status is
// the HTTP status answered (0 while in progress, or when the client gave up
// first); Error is the Slack error code, if any ("client_gone" when the
// client gave up).
type Attempt struct {
	Method  string
	Channel string
	Time    time.Time
	Status  int
	Error   string
	Params  url.Values // every request parameter but the token: what left the client
}

// Posts returns the accepted chat.postMessage calls in order.
func (s *Server) Posts() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Post(nil), s.posts...)
}

// Attempts returns every request of method ("" for all methods) in arrival order.
func (s *Server) Attempts(method string) []Attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attemptsLocked(method)
}

func (s *Server) attemptsLocked(method string) []Attempt {
	var out []Attempt
	for _, a := range s.attempts {
		if method == "" || a.Method == method {
			out = append(out, a)
		}
	}
	return out
}

// WaitPosts blocks until at least n posts were accepted or ctx is done.
func (s *Server) WaitPosts(ctx context.Context, n int) ([]Post, error) {
	return s.WaitPostsFunc(ctx, func(p []Post) bool { return len(p) >= n })
}

// WaitPostsFunc blocks until ok accepts the posts so far or ctx is done; it
// returns the posts last seen.
func (s *Server) WaitPostsFunc(ctx context.Context, ok func([]Post) bool) ([]Post, error) {
	for {
		s.mu.Lock()
		posts := append([]Post(nil), s.posts...)
		ch := s.changed
		s.mu.Unlock()
		if ok(posts) {
			return posts, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return posts, ctx.Err()
		}
	}
}

// WaitAttempts blocks until at least n requests of method ("" for any) have
// arrived or ctx is done. With ModeHang it tells when a request is being held.
func (s *Server) WaitAttempts(ctx context.Context, method string, n int) ([]Attempt, error) {
	for {
		s.mu.Lock()
		as := s.attemptsLocked(method)
		ch := s.changed
		s.mu.Unlock()
		if len(as) >= n {
			return as, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return as, ctx.Err()
		}
	}
}

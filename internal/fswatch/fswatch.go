// Package fswatch shares one fsnotify watcher among the parts of a process
// that watch directories. Each fsnotify watcher holds an inotify instance
// and a goroutine whose stack carries a 64 KiB read buffer (a 128 KiB
// stack); the daemon needs only one.
//
// A Hub owns the watcher; each user takes a Sub, adds the directories it
// cares about and reads the events in them from Sub.Events, as it would
// from a watcher of its own. The kernel keeps one watch per directory, so
// the Hub counts who holds each directory: a Remove or Close by one Sub
// never drops a directory another Sub still holds.
//
// Delivery is what a watcher of one's own gives: every event and error is
// sent to each interested Sub in turn, blocking until it is received (an
// unread fsnotify watcher blocks too, and the kernel then reports an
// overflow). A Sub that has been closed is skipped at once, so only a live
// Sub that stops reading can hold up the others. Every Sub must therefore
// read both Events and Errors until it closes.
package fswatch

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// Hub is one fsnotify watcher shared by its Subs.
type Hub struct {
	w        *fsnotify.Watcher
	done     chan struct{} // closed by Close: sends stop waiting
	finished chan struct{} // closed when dispatch has returned
	close    sync.Once

	// opMu serialises Add, Remove and Close of the Subs: the watcher's own
	// lock is taken under it, never under mu, which dispatch takes.
	opMu sync.Mutex

	mu     sync.Mutex
	subs   map[*Sub]struct{}
	closed bool // dispatch returned: the Subs' channels are closed
	// canon maps each directory a Sub added to the name the watcher sends
	// its events under: itself, or, for a second path to a directory
	// already watched (a symlink), the first path.
	canon map[string]string
}

// Sub is one user's view of the Hub: the events in the directories it added.
type Sub struct {
	h      *Hub
	events chan fsnotify.Event
	errors chan error
	closed chan struct{}
	close  sync.Once
	dirs   []string // held, cleaned; guarded by h.mu (written under h.opMu too)
}

// New starts the shared watcher. It fails when fsnotify cannot be used (no
// inotify instances left, say).
func New() (*Hub, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	h := &Hub{
		w:        w,
		done:     make(chan struct{}),
		finished: make(chan struct{}),
		subs:     map[*Sub]struct{}{},
		canon:    map[string]string{},
	}
	go h.dispatch()
	return h, nil
}

// Close stops the watcher; the Subs' Events and Errors channels are then
// closed. It waits for the dispatching goroutine to return.
func (h *Hub) Close() error {
	var err error
	h.close.Do(func() {
		close(h.done)
		err = h.w.Close()
		<-h.finished
	})
	return err
}

// Subscribe returns a Sub holding no directories. On a closed Hub its
// channels are closed and Add fails.
func (h *Hub) Subscribe() *Sub {
	s := &Sub{h: h, events: make(chan fsnotify.Event), errors: make(chan error), closed: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(s.events)
		close(s.errors)
		return s
	}
	h.subs[s] = struct{}{}
	return s
}

// Events delivers the events in (and on) the directories s added, named
// under the path s added the directory by.
func (s *Sub) Events() <-chan fsnotify.Event { return s.events }

// Errors delivers every error of the shared watcher (an overflow concerns
// all its directories).
func (s *Sub) Errors() <-chan error { return s.errors }

// ErrClosed is returned by Add on a closed Sub.
var ErrClosed = errors.New("fswatch: subscription closed")

// Add watches dir for s. Adding a directory again is harmless: it renews
// the kernel's watch, which it drops when the directory is deleted.
func (s *Sub) Add(dir string) error {
	h := s.h
	dir = filepath.Clean(dir)
	h.opMu.Lock()
	defer h.opMu.Unlock()
	select {
	case <-s.closed:
		return ErrClosed
	default:
	}
	if err := h.w.Add(dir); err != nil {
		return err
	}
	canon := h.canonical(dir)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.canon[dir] = canon
	if !slices.Contains(s.dirs, dir) {
		s.dirs = append(s.dirs, dir)
	}
	return nil
}

// canonical returns the name the watcher knows dir by: fsnotify keeps the
// first path a directory was added by and sends its events under that one.
func (h *Hub) canonical(dir string) string {
	known := h.w.WatchList()
	if slices.Contains(known, dir) {
		return dir
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return dir
	}
	for _, k := range known {
		if ki, err := os.Stat(k); err == nil && os.SameFile(fi, ki) {
			return k
		}
	}
	return dir
}

// Remove stops watching dir for s. The kernel's watch stays while another
// Sub (or another path of s's) still needs it.
func (s *Sub) Remove(dir string) error {
	h := s.h
	dir = filepath.Clean(dir)
	h.opMu.Lock()
	defer h.opMu.Unlock()
	return h.release(s, dir)
}

// release drops s's hold on dir; under opMu.
func (h *Hub) release(s *Sub, dir string) error {
	h.mu.Lock()
	i := slices.Index(s.dirs, dir)
	if i < 0 {
		h.mu.Unlock()
		return nil
	}
	s.dirs = slices.Delete(s.dirs, i, i+1)
	if h.heldLocked(dir) {
		h.mu.Unlock()
		return nil
	}
	canon := h.canon[dir]
	delete(h.canon, dir)
	for _, c := range h.canon {
		if c == canon { // another path to the same directory is still held
			h.mu.Unlock()
			return nil
		}
	}
	h.mu.Unlock()
	err := h.w.Remove(canon)
	if errors.Is(err, fsnotify.ErrNonExistentWatch) {
		return nil // the kernel dropped it already: the directory is gone
	}
	return err
}

// heldLocked reports whether any Sub holds dir; under mu.
func (h *Hub) heldLocked(dir string) bool {
	for s := range h.subs {
		if slices.Contains(s.dirs, dir) {
			return true
		}
	}
	return false
}

// Close releases s's directories and stops its deliveries; its channels are
// not closed (the Hub's dispatching goroutine is their only sender, and
// closes them only when the Hub closes).
func (s *Sub) Close() error {
	h := s.h
	s.close.Do(func() { close(s.closed) })
	h.opMu.Lock()
	defer h.opMu.Unlock()
	var errs []error
	for {
		h.mu.Lock()
		if len(s.dirs) == 0 {
			delete(h.subs, s)
			h.mu.Unlock()
			return errors.Join(errs...)
		}
		dir := s.dirs[0]
		h.mu.Unlock()
		if err := h.release(s, dir); err != nil {
			errs = append(errs, err)
		}
	}
}

// dispatch hands each event to the Subs holding its directory and each
// error to every Sub, until the watcher closes.
func (h *Hub) dispatch() {
	defer close(h.finished)
	defer func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.closed = true
		for s := range h.subs {
			close(s.events)
			close(s.errors)
		}
	}()
	type delivery struct {
		s  *Sub
		ev fsnotify.Event
	}
	var out []delivery
	var to []*Sub
	for {
		select {
		case <-h.done:
			return
		case ev, ok := <-h.w.Events:
			if !ok {
				return
			}
			out = out[:0]
			h.mu.Lock()
			for s := range h.subs {
				if e, ok := h.matchLocked(s, ev); ok {
					out = append(out, delivery{s, e})
				}
			}
			h.mu.Unlock()
			for _, d := range out {
				select {
				case d.s.events <- d.ev:
				case <-d.s.closed:
				case <-h.done:
					return
				}
			}
		case err, ok := <-h.w.Errors:
			if !ok {
				return
			}
			to = to[:0]
			h.mu.Lock()
			for s := range h.subs {
				to = append(to, s)
			}
			h.mu.Unlock()
			for _, s := range to {
				select {
				case s.errors <- err:
				case <-s.closed:
				case <-h.done:
					return
				}
			}
		}
	}
}

// matchLocked returns ev as s should see it, if it is in or on a directory s
// holds: named under the path s added the directory by. Under mu.
func (h *Hub) matchLocked(s *Sub, ev fsnotify.Event) (fsnotify.Event, bool) {
	for _, dir := range s.dirs {
		switch c := h.canon[dir]; {
		case dir == c && (ev.Name == c || filepath.Dir(ev.Name) == c):
			// as the watcher named it
		case ev.Name == c:
			ev.Name = dir
		case filepath.Dir(ev.Name) == c:
			ev.Name = filepath.Join(dir, filepath.Base(ev.Name))
		default:
			continue
		}
		return ev, true
	}
	return ev, false
}

package fswatch

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/testenv"
)

const timeout = 10 * time.Second

func newHub(t *testing.T) *Hub {
	t.Helper()
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// seen collects what one Sub delivers, from a goroutine of its own, so
// that the test never holds up the Hub by not reading.
type seen struct {
	mu     sync.Mutex
	names  []string
	errs   []error
	ended  bool // the channels were closed
	stop   chan struct{}
	exited chan struct{}
}

func collect(t *testing.T, s *Sub) *seen {
	t.Helper()
	c := &seen{stop: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		defer close(c.exited)
		events, errs := s.Events(), s.Errors()
		for events != nil || errs != nil {
			select {
			case <-c.stop:
				return
			case ev, ok := <-events:
				if !ok {
					events = nil
					continue
				}
				c.mu.Lock()
				c.names = append(c.names, ev.Name)
				c.mu.Unlock()
			case err, ok := <-errs:
				if !ok {
					errs = nil
					continue
				}
				c.mu.Lock()
				c.errs = append(c.errs, err)
				c.mu.Unlock()
			}
		}
		c.mu.Lock()
		c.ended = true
		c.mu.Unlock()
	}()
	t.Cleanup(c.halt)
	return c
}

// halt stops reading (a Sub whose user went away).
func (c *seen) halt() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.exited
}

func (c *seen) has(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Contains(c.names, name)
}

// wait polls until name was delivered.
func (c *seen) wait(t *testing.T, name string) {
	t.Helper()
	testenv.Eventually(t, timeout, "an event on "+name, func() bool { return c.has(name) })
}

// only fails unless every name delivered is in or on one of dirs.
func (c *seen) only(t *testing.T, dirs ...string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.names {
		if !slices.Contains(dirs, n) && !slices.Contains(dirs, filepath.Dir(n)) {
			t.Errorf("event on %s delivered; only %v were added", n, dirs)
		}
	}
	if len(c.errs) > 0 {
		t.Errorf("errors: %v", c.errs)
	}
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func add(t *testing.T, s *Sub, dir string) {
	t.Helper()
	if err := s.Add(dir); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, path string) string {
	t.Helper()
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// readers counts the goroutines reading an inotify instance for fsnotify:
// one per fsnotify watcher.
func readers() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "fsnotify.(*inotify).readEvents")
}

// The watcher delivers events in order, so an event on one directory
// followed by one on another shows the first was not misdelivered: it
// would have arrived before.
func TestSubscribersSeeOnlyTheirDirectories(t *testing.T) {
	root := t.TempDir()
	a, b := mkdir(t, filepath.Join(root, "a")), mkdir(t, filepath.Join(root, "b"))
	h := newHub(t)
	sa, sb := h.Subscribe(), h.Subscribe()
	ca, cb := collect(t, sa), collect(t, sb)
	add(t, sa, a)
	add(t, sb, b)
	touch(t, filepath.Join(a, "1"))
	touch(t, filepath.Join(b, "2"))
	touch(t, filepath.Join(a, "3"))
	touch(t, filepath.Join(root, "4")) // nobody's
	touch(t, filepath.Join(b, "5"))
	touch(t, filepath.Join(a, "6"))
	ca.wait(t, filepath.Join(a, "6"))
	cb.wait(t, filepath.Join(b, "5"))
	ca.only(t, a)
	cb.only(t, b)
	for _, n := range []string{"1", "3"} {
		if !ca.has(filepath.Join(a, n)) {
			t.Errorf("a/%s missing", n)
		}
	}
	if !cb.has(filepath.Join(b, "2")) {
		t.Error("b/2 missing")
	}
	if got := readers(); got != 1 {
		t.Errorf("%d fsnotify reading goroutines, want 1", got)
	}
}

// One kernel watch per directory: both subscribers get its events, and one
// letting go (Remove, then Close) leaves the other's.
func TestSharedDirectoryOutlivesOneSubscriber(t *testing.T) {
	root := t.TempDir()
	d, other := mkdir(t, filepath.Join(root, "d")), mkdir(t, filepath.Join(root, "other"))
	h := newHub(t)
	sa, sb := h.Subscribe(), h.Subscribe()
	ca, cb := collect(t, sa), collect(t, sb)
	add(t, sa, d)
	add(t, sb, d)
	add(t, sb, d) // again: still one hold
	touch(t, filepath.Join(d, "1"))
	ca.wait(t, filepath.Join(d, "1"))
	cb.wait(t, filepath.Join(d, "1"))

	if err := sa.Remove(d); err != nil {
		t.Fatal(err)
	}
	add(t, sa, other)
	touch(t, filepath.Join(d, "2"))
	touch(t, filepath.Join(other, "3"))
	cb.wait(t, filepath.Join(d, "2"))
	ca.wait(t, filepath.Join(other, "3"))
	if ca.has(filepath.Join(d, "2")) {
		t.Error("d/2 delivered after Remove")
	}

	add(t, sa, d)
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	touch(t, filepath.Join(d, "4"))
	ca.wait(t, filepath.Join(d, "4"))
	if err := sb.Close(); err != nil { // twice is fine
		t.Fatal(err)
	}
	if err := sb.Add(d); err == nil {
		t.Error("Add on a closed Sub succeeded")
	}
	// Removing what is not held, and the last hold, are fine.
	if err := sa.Remove(filepath.Join(root, "never")); err != nil {
		t.Error(err)
	}
	if err := sa.Remove(d); err != nil {
		t.Error(err)
	}
	if err := sa.Remove(other); err != nil {
		t.Error(err)
	}
	if got := h.w.WatchList(); len(got) != 0 {
		t.Errorf("kernel watches left after every hold was released: %v", got)
	}
}

// A subscriber that stopped reading holds up the others only until it is
// closed.
func TestClosedSubscriberDoesNotBlockOthers(t *testing.T) {
	d := t.TempDir()
	h := newHub(t)
	stuck, live := h.Subscribe(), h.Subscribe()
	add(t, stuck, d) // never read
	cl := collect(t, live)
	add(t, live, d)
	touch(t, filepath.Join(d, "1"))
	if err := stuck.Close(); err != nil {
		t.Fatal(err)
	}
	touch(t, filepath.Join(d, "2"))
	cl.wait(t, filepath.Join(d, "1"))
	cl.wait(t, filepath.Join(d, "2"))

	// The same for one that read for a while, then stopped.
	quit := h.Subscribe()
	cq := collect(t, quit)
	add(t, quit, d)
	touch(t, filepath.Join(d, "3"))
	cq.wait(t, filepath.Join(d, "3"))
	cq.halt()
	touch(t, filepath.Join(d, "4"))
	if err := quit.Close(); err != nil {
		t.Fatal(err)
	}
	touch(t, filepath.Join(d, "5"))
	cl.wait(t, filepath.Join(d, "5"))
}

// Close ends the watcher's goroutines, closes the Subs' channels even when
// one is not being read, and later calls fail or do nothing.
func TestHubClose(t *testing.T) {
	d := t.TempDir()
	before := readers()
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	stuck, s := h.Subscribe(), h.Subscribe()
	add(t, stuck, d)
	cs := collect(t, s)
	add(t, s, d)
	touch(t, filepath.Join(d, "1")) // stuck may hold up its delivery: Close must not wait for it
	closed := make(chan error, 1)
	go func() { closed <- h.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(timeout):
		t.Fatal("Close blocked")
	}
	testenv.Eventually(t, timeout, "the Sub's channels closed", func() bool {
		cs.mu.Lock()
		defer cs.mu.Unlock()
		return cs.ended
	})
	if _, ok := <-stuck.Events(); ok {
		// One event may have been sent before Close; the channel then closes.
		if _, ok := <-stuck.Events(); ok {
			t.Error("Events of an unread Sub not closed")
		}
	}
	if got := readers(); got != before {
		t.Errorf("%d fsnotify reading goroutines after Close, %d before New", got, before)
	}
	if err := h.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	late := h.Subscribe()
	if _, ok := <-late.Events(); ok {
		t.Error("a Sub of a closed Hub delivers")
	}
	if err := late.Add(d); err == nil {
		t.Error("Add on a closed Hub succeeded")
	}
	if err := s.Remove(d); err != nil {
		t.Error(err)
	}
	if err := stuck.Close(); err != nil {
		t.Error(err)
	}
}

// A directory reached through a symlink is one kernel watch, which fsnotify
// names by the path first added: each Sub still sees events under its own
// path, and releasing one path keeps the watch for the other.
func TestSymlinkedDirectory(t *testing.T) {
	root := t.TempDir()
	real := mkdir(t, filepath.Join(root, "real"))
	link := filepath.Join(root, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	for _, first := range []string{real, link} {
		t.Run(filepath.Base(first)+"First", func(t *testing.T) {
			second := map[string]string{real: link, link: real}[first]
			h := newHub(t)
			s1, s2 := h.Subscribe(), h.Subscribe()
			c1, c2 := collect(t, s1), collect(t, s2)
			add(t, s1, first)
			add(t, s2, second)
			touch(t, filepath.Join(real, "a"+filepath.Base(first)))
			c1.wait(t, filepath.Join(first, "a"+filepath.Base(first)))
			c2.wait(t, filepath.Join(second, "a"+filepath.Base(first)))
			c1.only(t, first)
			c2.only(t, second)
			if err := s1.Close(); err != nil {
				t.Fatal(err)
			}
			touch(t, filepath.Join(real, "b"+filepath.Base(first)))
			c2.wait(t, filepath.Join(second, "b"+filepath.Base(first)))
			if err := s2.Close(); err != nil {
				t.Fatal(err)
			}
			if got := h.w.WatchList(); len(got) != 0 {
				t.Errorf("kernel watches left: %v", got)
			}
		})
	}
}

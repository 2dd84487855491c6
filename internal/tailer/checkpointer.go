package tailer

import "sync"

// checkpointer writes checkpoints on a goroutine of its own, so that the
// tailer never waits for a checkpoint's fsyncs (temp file, rename, directory)
// while it follows the log. On a busy disk one such write takes tens to
// hundreds of milliseconds, and every line appended meanwhile used to wait
// for it: the first events after a catch-up, when the checkpoint left waiting
// is written, arrived in Slack one queued behind the other.
//
// The tailer hands over only checkpoints whose lines the handler has made
// durable, so a checkpoint written late lags the spools and never leads
// them. The newest checkpoint handed over wins; older ones not written yet
// are dropped. flush waits for the writes, for the commits that must be on
// disk at once (start, rotation, truncation, shutdown). A failed write is
// reported once, by the next flush or takeErr; the tailer then holds back
// and writes again (state_dir full, say), waiting for each write until one
// succeeds.
type checkpointer struct {
	path  string
	write func(path string, cp Checkpoint) error // saveCheckpoint; tests hold it
	done  chan struct{}

	mu      sync.Mutex
	cond    *sync.Cond
	pending *Checkpoint // newest checkpoint not written yet
	writing bool
	err     error // the first failed write
	closed  bool
}

func newCheckpointer(path string, write func(string, Checkpoint) error) *checkpointer {
	c := &checkpointer{path: path, write: write, done: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	go c.run()
	return c
}

func (c *checkpointer) run() {
	defer close(c.done)
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for c.pending == nil && !c.closed {
			c.cond.Wait()
		}
		if c.pending == nil {
			return
		}
		cp := *c.pending
		c.pending, c.writing = nil, true
		c.mu.Unlock()
		err := c.write(c.path, cp)
		c.mu.Lock()
		c.writing = false
		if err != nil {
			c.err = err
		} else if c.pending == nil {
			c.err = nil // a later write succeeded: nothing is missing on disk
		}
		c.cond.Broadcast()
	}
}

// save hands cp over and returns at once.
func (c *checkpointer) save(cp Checkpoint) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = &cp
	c.cond.Broadcast()
}

// flush waits until every checkpoint handed over is written, and reports
// (and forgets) a failed write.
func (c *checkpointer) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.pending != nil || c.writing {
		c.cond.Wait()
	}
	err := c.err
	c.err = nil
	return err
}

// takeErr reports (and forgets) a write that failed since the last call.
func (c *checkpointer) takeErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.err
	c.err = nil
	return err
}

// close writes what is pending and ends the goroutine: no write of this
// tailer can land after a later one's.
func (c *checkpointer) close() {
	c.mu.Lock()
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	<-c.done
}

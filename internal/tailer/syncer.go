package tailer

import "sync"

// syncer makes commits durable on a goroutine of its own, so that the
// tailer never waits for the disk while it follows the log: it syncs the
// handler (the spools' fsyncs), then writes the checkpoint (temp file,
// fsync, rename, directory fsync). On a busy disk each takes tens to
// hundreds of milliseconds; lines appended meanwhile are read, routed and
// handed to the senders at once, and the next sync covers them all.
//
// A checkpoint is written only after the sync that covers its lines, so it
// never leads the spools. The newest job handed over wins; the ones it
// replaces are covered by its sync, and their checkpoint is superseded.
// flush waits for the jobs, for the commits that must be on disk at once
// (start, rotation, truncation, shutdown, and every commit while the state
// directory fails). A failed job is reported once, by the next flush or
// takeErr; the tailer then rolls back to the last durable position and
// holds back.
type syncer struct {
	sync  func() error                           // the handler's Sync
	write func(path string, cp Checkpoint) error // saveCheckpoint; tests hold it
	path  string
	done  chan struct{}

	mu      sync.Mutex
	cond    *sync.Cond
	pending *syncJob // newest job not started yet
	busy    bool
	err     error      // the first failed job
	durable Checkpoint // the position of the last job whose sync succeeded
	closed  bool
}

// syncJob is one commit to make durable: cp is its position (zero when the
// commit had none, mid multi-line record); write says whether to write the
// checkpoint as well (its writes are spaced out while a log keeps growing).
type syncJob struct {
	cp    Checkpoint
	write bool
}

func newSyncer(path string, syncFn func() error, write func(string, Checkpoint) error) *syncer {
	s := &syncer{path: path, sync: syncFn, write: write, done: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	go s.run()
	return s
}

func (s *syncer) run() {
	defer close(s.done)
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		for s.pending == nil && !s.closed {
			s.cond.Wait()
		}
		if s.pending == nil {
			return
		}
		job := *s.pending
		s.pending, s.busy = nil, true
		s.mu.Unlock()
		err := s.sync()
		synced := err == nil
		if synced && job.write {
			err = s.write(s.path, job.cp)
		}
		s.mu.Lock()
		s.busy = false
		if synced && job.cp != (Checkpoint{}) {
			s.durable = job.cp
		}
		if err != nil && s.err == nil {
			s.err = err
		}
		s.cond.Broadcast()
	}
}

// save hands a job over and returns at once. A job it replaces is covered
// by it (its sync syncs everything); a checkpoint it had to write is
// written with the newer position.
func (s *syncer) save(job syncJob) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending != nil {
		job.write = job.write || s.pending.write
		if job.cp == (Checkpoint{}) {
			job.cp = s.pending.cp
		}
	}
	s.pending = &job
	s.cond.Broadcast()
}

// flush waits until every job handed over is done, and reports (and
// forgets) a failed one.
func (s *syncer) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.pending != nil || s.busy {
		s.cond.Wait()
	}
	err := s.err
	s.err = nil
	return err
}

// takeErr reports (and forgets) a job that failed since the last call.
func (s *syncer) takeErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.err
	s.err = nil
	return err
}

// durablePos is the position of the last commit made durable.
func (s *syncer) durablePos() Checkpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.durable
}

// close finishes what is pending and ends the goroutine: no write of this
// tailer can land after a later one's.
func (s *syncer) close() {
	s.mu.Lock()
	s.closed = true
	s.cond.Broadcast()
	s.mu.Unlock()
	<-s.done
}

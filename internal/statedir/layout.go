package statedir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"

	"github.com/auditfwd/auditfwd/internal/fsutil"
)

// LayoutFile is the layout stamp: which layout the directory's files are in,
// so that a daemon never misreads state written by a newer one, and an
// upgraded daemon knows what it must migrate.
const LayoutFile = "layout.json"

// Layout versions of the state directory.
//
// A change that writes state which a daemon knowing only the previous
// layout would misread (a new spool record framing, a checkpoint field that
// must not be ignored, a file moved) bumps CurrentLayout and appends to
// layoutSteps the step that brings the previous layout to the new one. A
// step may do nothing when the new code reads the old files as they are:
// the bump alone makes older daemons refuse the directory instead of
// misreading it. A step must be safe to run again on a directory it already
// migrated (a crash between the step and the new stamp repeats it).
const (
	// LayoutUnstamped is what a directory without a stamp holds: the layout
	// of every auditfwd before the stamp existed (up to commit 820d514).
	LayoutUnstamped = 1
	// CurrentLayout is the layout this daemon writes.
	CurrentLayout = LayoutUnstamped + len(layoutSteps)
)

// layoutStep migrates a directory from layout to-1 to layout to.
type layoutStep struct {
	to   int
	what string // for the log line
	run  func(Dir) error
}

// layoutSteps[i] brings layout LayoutUnstamped+i to LayoutUnstamped+i+1.
var layoutSteps = [...]layoutStep{}

// stamp is the content of LayoutFile.
type stamp struct {
	Layout    int    `json:"layout"`
	StampedBy string `json:"stamped_by,omitempty"` // the auditfwd version that wrote it
}

// LayoutNewerError is returned for a directory written by a newer auditfwd.
type LayoutNewerError struct {
	Dir       string
	Layout    int
	StampedBy string
	Known     int
}

func (e *LayoutNewerError) Error() string {
	by := ""
	if e.StampedBy != "" {
		by = " (stamped by auditfwd " + strconv.Quote(e.StampedBy) + ")"
	}
	return fmt.Sprintf("state_dir %s holds layout %d%s, but this auditfwd knows layouts up to %d: "+
		"run that version or a newer one (downgrading is not supported), "+
		"or move the directory aside to start afresh (what it had queued would not be delivered)",
		e.Dir, e.Layout, by, e.Known)
}

// MigrateLayout is the daemon's first look at the directory, after it took
// the lock and before it reads any state: it reads the stamp (none: the
// unstamped layout), refuses a layout newer than CurrentLayout with a
// *LayoutNewerError, migrates an older one step by step, and stamps the
// result. version is recorded in the stamp. An unusable stamp is reported
// and treated as the unstamped layout (every step is safe to repeat); a
// stamp that cannot be written is reported and written at the next start,
// never a reason to stop.
func (d Dir) MigrateLayout(version string, log *slog.Logger) error {
	return d.migrateLayout(version, log, layoutSteps[:])
}

func (d Dir) migrateLayout(version string, log *slog.Logger, steps []layoutStep) error {
	known := LayoutUnstamped + len(steps)
	path := d.join(LayoutFile)
	cur, present, err := readStamp(path)
	switch {
	case err != nil:
		log.Error("state_dir layout stamp unusable; treating the directory as unstamped (the oldest layout) and stamping it again",
			"file", path, "err", err)
		cur = stamp{Layout: LayoutUnstamped}
		present = false
	case !present:
		cur = stamp{Layout: LayoutUnstamped}
	}
	if cur.Layout > known {
		return &LayoutNewerError{Dir: string(d), Layout: cur.Layout, StampedBy: cur.StampedBy, Known: known}
	}
	for layout := cur.Layout; layout < known; layout++ {
		step := steps[layout-LayoutUnstamped]
		log.Info("migrating the state_dir layout", "dir", string(d), "from", layout, "to", step.to, "what", step.what)
		if err := step.run(d); err != nil {
			return fmt.Errorf("migrate state_dir %s from layout %d to %d (%s): %w", d, layout, step.to, step.what, err)
		}
		if err := writeStamp(path, step.to, version); err != nil {
			log.Warn("cannot write the state_dir layout stamp; the migration step runs again at the next start", "err", err)
		}
	}
	if present {
		return nil
	}
	if err := writeStamp(path, known, version); err != nil {
		log.Warn("cannot write the state_dir layout stamp; trying again at the next start", "err", err)
	}
	return nil
}

// readStamp reads the stamp without following a symlink. present is false
// when there is none.
func readStamp(path string) (s stamp, present bool, err error) {
	f, err := fsutil.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, false, nil
	}
	if err != nil {
		return s, true, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return s, true, err
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, true, fmt.Errorf("%q: %w", truncate(data, 64), err)
	}
	if s.Layout < LayoutUnstamped {
		return s, true, fmt.Errorf("layout %d is not a layout", s.Layout)
	}
	return s, true, nil
}

func writeStamp(path string, layout int, version string) error {
	data, err := json.Marshal(stamp{Layout: layout, StampedBy: version})
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, append(data, '\n'), 0o600)
}

func truncate(b []byte, n int) []byte { return b[:min(len(b), n)] }

package tailer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/auditfwd/auditfwd/internal/fsutil"
)

// Position orders every line ever read: Gen grows by one each time the tailer
// moves to another file, Offset is the byte offset just after the line in that
// file. Downstream stores use it to recognise lines they already hold.
type Position struct {
	Gen    uint64 `json:"gen"`
	Offset int64  `json:"offset"`
}

// Less reports whether p comes before q.
func (p Position) Less(q Position) bool {
	return p.Gen < q.Gen || p.Gen == q.Gen && p.Offset < q.Offset
}

// Checkpoint is the durable progress of the tailer: which file (by identity,
// not by name) and the offset after the last line that was fully handled.
type Checkpoint struct {
	Version int    `json:"version"`
	Path    string `json:"path"` // name the file had when last read; informational
	Dev     uint64 `json:"dev"`
	Ino     uint64 `json:"ino"`
	FPLen   int    `json:"fp_len"`  // bytes of the file's head hashed
	FPHash  uint64 `json:"fp_hash"` // FNV-1a of those bytes
	Position
}

func loadCheckpoint(path string) (*Checkpoint, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	var cp Checkpoint
	if err := json.Unmarshal(data, &cp); err != nil {
		return nil, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	if cp.Version != 1 {
		return nil, fmt.Errorf("read checkpoint %s: unknown version %d", path, cp.Version)
	}
	return &cp, nil
}

func saveCheckpoint(path string, cp Checkpoint) error {
	cp.Version = 1
	data, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	if err := fsutil.WriteFileAtomic(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}

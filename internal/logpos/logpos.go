// Package logpos is the one contract between the tailer and the spools: the
// position of a line in the audit log, across files. The tailer hands one
// out with every line; a spool stores it with every record and declines a
// record at or before the last position it holds, which is how a line read
// again (after a crash, a lost checkpoint or a held-back write) is never
// queued twice. It knows nothing about files or queues.
package logpos

// Position orders every line ever read. Gen grows by one each time the
// tailer moves to another file (rotation, truncation, a file that appeared),
// and, when the tailer has no usable checkpoint, restarts after the highest
// Gen any spool holds; Offset is the byte offset just after the line in
// that file.
type Position struct {
	Gen    uint64 `json:"gen"`
	Offset int64  `json:"offset"`
}

// Less reports whether p comes before q.
func (p Position) Less(q Position) bool {
	return p.Gen < q.Gen || p.Gen == q.Gen && p.Offset < q.Offset
}

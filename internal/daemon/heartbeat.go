package daemon

import (
	"sync/atomic"
	"time"
)

// heartbeat tells the systemd watchdog the tailer's loop is alive: it beats
// at least every poll interval, and during a long backlog at every commit.
type heartbeat struct{ last atomic.Int64 }

func (h *heartbeat) beat() { h.last.Store(time.Now().UnixNano()) }

// healthy is false before the first beat and when the loop has been silent
// for a while: the watchdog then stops pinging and systemd restarts us.
func (h *heartbeat) healthy() bool {
	last := h.last.Load()
	return last != 0 && time.Since(time.Unix(0, last)) < 20*time.Second
}

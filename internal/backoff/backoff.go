// Package backoff is how auditfwd waits before trying again: capped
// exponential delays with jitter, and sleeps that keep the systemd watchdog
// fed. It knows nothing of what is retried.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Delay is the wait before retry n (1, 2, …): 1 s, 2 s, 4 s … up to ceiling,
// each a random duration between half and all of that, so that retries of
// several instances do not go in step.
func Delay(n int, ceiling time.Duration) time.Duration {
	d := ceiling
	if n < 1 {
		n = 1
	}
	if n < 31 && time.Second<<(n-1) < ceiling {
		d = time.Second << (n - 1)
	}
	return Jitter(d)
}

// Jitter is a random duration between d/2 and d, so that retries do not go
// in step.
func Jitter(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }

// Sleep waits d, or until ctx is done (then it returns false), calling
// beat at once and every second meanwhile (beat may be nil).
func Sleep(ctx context.Context, d time.Duration, beat func()) bool {
	if beat == nil {
		beat = func() {}
	}
	beat()
	t := time.NewTimer(d)
	defer t.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-tick.C:
			beat()
		}
	}
}

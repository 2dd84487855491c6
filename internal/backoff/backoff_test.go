package backoff

import (
	"context"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	for n, want := range map[int]time.Duration{0: time.Second, 1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 5: 15 * time.Second, 40: 15 * time.Second} {
		for range 100 {
			if d := Delay(n, 15*time.Second); d < want/2 || d > want {
				t.Fatalf("Delay(%d) = %v, want between %v and %v", n, d, want/2, want)
			}
		}
	}
}

func TestSleepBeatsAndStops(t *testing.T) {
	beats := 0
	if !Sleep(context.Background(), 2100*time.Millisecond, func() { beats++ }) || beats != 3 {
		t.Errorf("a 2.1 s sleep: %d beats, want 3 (at once, then each second)", beats)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour, nil) {
		t.Error("Sleep did not stop with its context")
	}
}

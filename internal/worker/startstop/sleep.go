package startstop

import (
	"context"
	"time"
)

// Sleep waits d between a loop's passes and reports false as soon as ctx
// ends, so a Stop during the wait is honoured at once rather than after
// the next pass.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

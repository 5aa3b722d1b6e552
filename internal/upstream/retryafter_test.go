package upstream_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/upstream"
)

func TestRetryAfterFromResponse(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 8, 6, 20, 53, 40, 0, time.UTC)
	tests := []struct {
		name   string
		header map[string]string
		want   time.Duration
	}{
		{"none", nil, 0},
		{"retry-after seconds", map[string]string{"Retry-After": "7"}, 7 * time.Second},
		{"retry-after date", map[string]string{"Retry-After": "Tue, 06 Aug 2024 20:53:50 GMT"}, 10 * time.Second},
		{"retry-after wins over reset", map[string]string{"Retry-After": "2", "X-Ratelimit-Reset": "9"}, 2 * time.Second},
		{"reset as ZeroTier writes it", map[string]string{"X-Ratelimit-Reset": "Tue, 06 Aug 2024 20:53:48 UTC"}, 8 * time.Second},
		{"reset as epoch seconds", map[string]string{"X-Ratelimit-Reset": "1722977625"}, 5 * time.Second},
		{"reset as seconds to wait", map[string]string{"X-Ratelimit-Reset": "3"}, 3 * time.Second},
		{"reset in the past", map[string]string{"X-Ratelimit-Reset": "Tue, 06 Aug 2024 20:53:00 UTC"}, 0},
		{
			// The server's clock is 100s behind ours: the wait is measured
			// against its Date, not our clock.
			"reset against a skewed Date",
			map[string]string{"Date": "Tue, 06 Aug 2024 20:52:00 GMT", "X-Ratelimit-Reset": "Tue, 06 Aug 2024 20:52:04 UTC"},
			4 * time.Second,
		},
		{"garbage", map[string]string{"Retry-After": "soon", "X-Ratelimit-Reset": "later"}, 0},
		{"negative", map[string]string{"Retry-After": "-5"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for k, v := range tt.header {
				h.Set(k, v)
			}
			if got := upstream.RetryAfterFromResponse(h, now); got != tt.want {
				t.Errorf("RetryAfterFromResponse = %v, want %v", got, tt.want)
			}
		})
	}
}

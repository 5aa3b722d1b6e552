package upstream_test

import (
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/upstream"
)

func TestClockSkew(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		// offsets are Central's clock minus ours at each response.
		offsets []time.Duration
		want    time.Duration // what ToUpstream adds
	}{
		{"none seen", nil, 0},
		{"in step", []time.Duration{0, 0, 0}, 0},
		{"well under a second", []time.Duration{400 * time.Millisecond, 400 * time.Millisecond, 400 * time.Millisecond}, 0},
		{"ten seconds ahead", []time.Duration{10 * time.Second, 10 * time.Second, 10 * time.Second}, 10 * time.Second},
		{"an hour behind", []time.Duration{-time.Hour, -time.Hour}, -time.Hour},
		{"one outlier", []time.Duration{5 * time.Second, 5 * time.Second, time.Hour}, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := upstream.NewClockSkew(func() time.Time { return base })
			for i, off := range tt.offsets {
				// Responses at various fractions of a second.
				local := base.Add(time.Duration(i) * 370 * time.Millisecond)
				date := local.Add(off).Truncate(time.Second)
				s.Observe(date, local.Add(-time.Millisecond), local.Add(time.Millisecond))
			}
			if got := s.ToUpstream(base).Sub(base); got != tt.want {
				t.Errorf("ToUpstream moved by %s, want %s (offset %s)", got, tt.want, s.Offset())
			}
			if back := s.FromUpstream(s.ToUpstream(base)); !back.Equal(base) {
				t.Errorf("round trip = %s, want %s", back, base)
			}
		})
	}
	var nilSkew *upstream.ClockSkew
	if got := nilSkew.ToUpstream(base); !got.Equal(base) {
		t.Error("a nil estimate moved a time")
	}
}

package metrics

import (
	"testing"
	"time"
)

// TestLossWindows runs a synthetic 50 packet/s stream (20 ms apart, 250 packets per 5 s window)
// for 600 packets = 12 s: windows [0, 5 s), [5 s, 10 s) and the partial [10 s, 12 s) of 100
// packets. Packet i arrives at i·20 ms with sequence number 1000 + i.
func TestLossWindows(t *testing.T) {
	tests := []struct {
		name     string
		window   time.Duration
		drop     []int
		max      float64
		windows  int
		expected int64
		lost     int64
	}{
		{"no loss", 5 * time.Second, nil, 0, 3, 600, 0},
		// 2 of the 250 packets of the 2nd window: 100·2/250 = 0.8 %.
		{"two lost in the 2nd window", 5 * time.Second, []int{260, 261}, 0.8, 3, 600, 2},
		// Adds 1 of the 100 packets of the final partial window: 100·1/100 = 1 %, the largest.
		{"final partial window counts", 5 * time.Second, []int{260, 261, 550}, 1, 3, 600, 3},
		// 3 lost in the 1st window: 100·3/250 = 1.2 %; the 2nd window's 0.8 % is smaller.
		{"largest window wins", 5 * time.Second, []int{10, 11, 12, 260, 261}, 1.2, 3, 600, 5},
		// 1 s windows of 50 packets: 12 windows; 2 lost in [5 s, 6 s): 100·2/50 = 4 %.
		{"one second windows", time.Second, []int{260, 261}, 4, 12, 600, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Window = tc.window
			e := NewEngine(cfg)
			dropped := map[int]bool{}
			for _, i := range tc.drop {
				dropped[i] = true
			}
			var st *Stream
			for i := range 600 {
				if dropped[i] {
					continue
				}
				st, _ = e.RTP(rtpPkt(t0+int64(i)*20*ms, uint16(1000+i), uint32(i)*160, 8, false))
			}
			got := st.Stats()
			if got.MaxWindowLoss != tc.max || got.Windows != tc.windows {
				t.Errorf("max %.17g over %d windows, want %g over %d", got.MaxWindowLoss, got.Windows, tc.max, tc.windows)
			}
			if got.Expected != tc.expected || got.Lost != tc.lost {
				t.Errorf("expected %d lost %d, want %d, %d", got.Expected, got.Lost, tc.expected, tc.lost)
			}
			// Stats closes the partial window on a copy: asking twice changes nothing.
			if again := st.Stats(); again.MaxWindowLoss != got.MaxWindowLoss || again.Windows != got.Windows {
				t.Errorf("second Stats: %g over %d", again.MaxWindowLoss, again.Windows)
			}
		})
	}
}

// TestLossWindowSilence: a stream that pauses longer than a window skips the empty windows.
// Packets 0..249 fill [0, 5 s); the sender stops, then goes on with the next sequence numbers
// at 17 s for 100 packets with 1 lost: windows [0, 5 s) 0 % and [15 s, 20 s) 100·1/100 = 1 %.
func TestLossWindowSilence(t *testing.T) {
	e := NewEngine(DefaultConfig())
	var st *Stream
	for i := range 250 {
		st, _ = e.RTP(rtpPkt(t0+int64(i)*20*ms, uint16(i), uint32(i)*160, 8, false))
	}
	for i := range 100 {
		if i == 40 {
			continue
		}
		st, _ = e.RTP(rtpPkt(t0+17*s+int64(i)*20*ms, uint16(250+i), uint32(250+i)*160, 8, false))
	}
	got := st.Stats()
	if got.MaxWindowLoss != 1 || got.Windows != 2 {
		t.Errorf("max %g over %d windows, want 1 over 2", got.MaxWindowLoss, got.Windows)
	}
}

// TestActivity sums active periods: a silence longer than Gap ends one.
func TestActivity(t *testing.T) {
	a := Activity{Gap: 2 * s}
	// Active 10 s → 13 s; silent 13 s → 20 s (7 s > 2 s gap); active 20 s → 21.5 s with a
	// 1.5 s pause inside (< gap). Total = 3 s + 1.5 s = 4.5 s.
	for _, at := range []int64{10 * s, 11 * s, 13 * s, 20 * s, 20*s + 500*ms, 21*s + 500*ms} {
		a.Update(at)
	}
	if got := a.Total(); got != 4*s+500*ms {
		t.Errorf("Total = %d ns, want 4.5 s", got)
	}
}

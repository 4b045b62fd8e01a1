//go:build !linux && !windows

package capture

import (
	"errors"
	"time"
)

// LiveSource is not available on this system: the agent captures live on Linux and Windows.
type LiveSource struct{}

// OpenLive reports that live capture is not supported here; capture files still work.
func OpenLive(string, PortRange, bool, time.Duration) (*LiveSource, error) {
	return nil, errors.New("live capture is supported on Linux and Windows only; capture files work everywhere")
}

// Name implements Source.
func (s *LiveSource) Name() string { return "" }

// Next implements Source.
func (s *LiveSource) Next(*Packet) error { return errors.New("live capture not supported") }

// Stats implements Source.
func (s *LiveSource) Stats() Stats { return Stats{} }

// Live returns no counters.
func (s *LiveSource) Live() (LiveStats, error) { return LiveStats{}, nil }

// Close implements Source.
func (s *LiveSource) Close() error { return nil }

func linkSpeed(string) (int64, bool) { return 0, false }

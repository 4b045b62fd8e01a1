package ops

import (
	"encoding/json"
	"net/http"
	"time"
)

// CaptureState says whether the agent is capturing.
type CaptureState string

// Capture states.
const (
	CaptureRunning CaptureState = "running"
	CaptureStopped CaptureState = "stopped"
)

// Health is what /healthz reports.
type Health struct {
	Capture       CaptureState `json:"capture"`
	CaptureError  string       `json:"capture_error,omitempty"` // why capture stopped, if it failed
	SpoolWritable bool         `json:"spool_writable"`
	LastUpload    *Upload      `json:"last_upload"` // nil (null) before the first attempt
}

// Upload is the outcome of the last upload attempt.
type Upload struct {
	At     time.Time `json:"at"`
	Status string    `json:"status"` // e.g. "204", "retry: 503 ServiceUnavailable", "deadletter: 400 BadRequest"
	OK     bool      `json:"ok"`
}

// StatusSource is what the agent implements for /healthz. Health is called once per request,
// from the server's goroutines: it must be safe for concurrent use and must not block.
type StatusSource interface {
	Health() Health
}

// Healthy is true when capture runs and the spool takes records.
func (h Health) Healthy() bool {
	return h.Capture == CaptureRunning && h.SpoolWritable
}

// handleHealth answers 200 when healthy, 503 otherwise, with the Health as JSON either way.
func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	h := s.status.Health()
	code := http.StatusOK
	if !h.Healthy() {
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(h) // a failed write is the client's hang-up
}

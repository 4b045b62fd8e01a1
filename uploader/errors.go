package uploader

import (
	"fmt"
	"time"
)

// PermanentError means the sink rejected the record itself: sending the same bytes again cannot
// succeed, so the record leaves the retry loop for deadletter/ instead of being retried forever.
type PermanentError struct {
	Status    int    // HTTP status, e.g. 400
	Code      string // Graph error code, e.g. "BadRequest"
	Message   string // Graph error message
	RequestID string // Graph request-id, what Microsoft support asks for
}

func (e *PermanentError) Error() string {
	return fmt.Sprintf("graph rejected the record: %s", describe(e.Status, e.Code, e.Message, e.RequestID))
}

// RetryableError means the record is fine but could not be delivered now (408, 429, 5xx, a
// network error, no token): it stays pending and is tried again after a backoff.
type RetryableError struct {
	Status     int           // HTTP status, 0 when no response arrived
	RetryAfter time.Duration // from the Retry-After header; 0 when absent
	Err        error
}

func (e *RetryableError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("delivery failed, will retry: %v", e.Err)
	}
	return fmt.Sprintf("delivery failed with status %d, will retry: %v", e.Status, e.Err)
}

func (e *RetryableError) Unwrap() error { return e.Err }

// apiError is Graph's error body; it sits inside a RetryableError so the retry log line can carry
// the request-id too.
type apiError struct {
	Status    int
	Code      string
	Message   string
	RequestID string
}

func (e *apiError) Error() string {
	return "graph answered " + describe(e.Status, e.Code, e.Message, e.RequestID)
}

func describe(status int, code, message, requestID string) string {
	s := fmt.Sprintf("%d", status)
	if code != "" {
		s += " " + code
	}
	if message != "" {
		s += ": " + message
	}
	if requestID != "" {
		s += " (request-id " + requestID + ")"
	}
	return s
}

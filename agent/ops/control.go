package ops

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"go.uber.org/zap"
)

// maxRequestBytes bounds a control request; an SDP is a few kilobytes.
const maxRequestBytes = 1 << 20

// guidPattern is a GUID as Graph takes it: lowercase, 8-4-4-4-12 hex digits.
var guidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// announcement is the body of POST /v1/calls.
type announcement struct {
	CallChainID   string `json:"callChainId"`
	ParticipantID string `json:"participantId"`
	MediaLegID    string `json:"mediaLegId"`
	LocalPorts    []int  `json:"localPorts"`
	SDP           string `json:"sdp"`
}

// checkGUID says precisely what is wrong with a GUID field.
func checkGUID(field, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("%s: required, want a lowercase GUID such as \"0b5c8c6e-3f0a-4d1e-9c61-5a3b2f4e7d10\"", field)
	case guidPattern.MatchString(v):
		return nil
	case guidPattern.MatchString(strings.ToLower(v)):
		return fmt.Errorf("%s: %q has capital letters, want it in lowercase: %q", field, v, strings.ToLower(v))
	default:
		return fmt.Errorf("%s: %q is not a GUID, want 8-4-4-4-12 lowercase hex digits such as \"0b5c8c6e-3f0a-4d1e-9c61-5a3b2f4e7d10\"", field, v)
	}
}

// identity checks the announcement and turns it into an Identity, reporting every problem.
func (a *announcement) identity() (Identity, error) {
	errs := []error{
		checkGUID("callChainId", a.CallChainID),
		checkGUID("participantId", a.ParticipantID),
		checkGUID("mediaLegId", a.MediaLegID),
	}
	id := Identity{CallChainID: a.CallChainID, ParticipantID: a.ParticipantID, MediaLegID: a.MediaLegID,
		LocalPorts: make([]uint16, 0, len(a.LocalPorts))}
	for i, p := range a.LocalPorts {
		if p < 1 || p > 65535 {
			errs = append(errs, fmt.Errorf("localPorts[%d]: %d is not a UDP port, want 1 to 65535", i, p))
			continue
		}
		id.LocalPorts = append(id.LocalPorts, uint16(p))
	}
	if a.SDP != "" {
		rates, err := clockRates(a.SDP)
		if err != nil {
			errs = append(errs, err)
		}
		id.ClockRates = rates
	}
	return id, errors.Join(errs...)
}

// handleAnnounce is POST /v1/calls: 201 with the stored identity, or 400 saying what is wrong.
func (s *Server) handleAnnounce(w http.ResponseWriter, r *http.Request) {
	var a announcement
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	dec.DisallowUnknownFields() // a misspelt field is refused, not silently ignored
	if err := dec.Decode(&a); err != nil {
		writeError(w, http.StatusBadRequest, "body: "+jsonProblem(err))
		return
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "body: more than one JSON object")
		return
	}
	id, err := a.identity()
	if err != nil {
		writeError(w, http.StatusBadRequest, strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	stored := s.ids.Announce(id)
	s.log.Info("call identity announced", zap.String("callChainId", id.CallChainID),
		zap.String("participantId", id.ParticipantID), zap.String("mediaLegId", id.MediaLegID),
		zap.Uint16s("local_ports", id.LocalPorts), zap.Int("sdp_clock_rates", len(id.ClockRates)))
	writeJSON(w, http.StatusCreated, stored)
}

// handleEnd is POST /v1/calls/{callChainId}/end.
func (s *Server) handleEnd(w http.ResponseWriter, r *http.Request) {
	chain := r.PathValue("callChainId")
	if err := checkGUID("callChainId", chain); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch err := s.ids.End(chain); {
	case errors.Is(err, ErrUnknownCall):
		writeError(w, http.StatusNotFound, fmt.Sprintf("callChainId %s: %v (announce it with POST /v1/calls)", chain, err))
		return
	case errors.Is(err, ErrEndedBacklog):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("callChainId %s: %v, retry", chain, err))
		return
	}
	s.log.Info("call ended by the control input", zap.String("callChainId", chain))
	writeJSON(w, http.StatusOK, map[string]string{"ended": chain})
}

// handleList is GET /v1/calls: the live announcements, oldest first.
func (s *Server) handleList(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string][]Identity{"calls": s.ids.List()})
}

// jsonProblem turns a decoding error into a message naming the field where possible.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &te):
		return fmt.Sprintf("%s: got a JSON %s, want %s", te.Field, te.Value, jsonType(te.Type.Kind().String()))
	case errors.As(err, &mbe):
		return fmt.Sprintf("larger than %d bytes", mbe.Limit)
	case errors.Is(err, io.EOF):
		return `empty, want a JSON object such as {"callChainId":"…","participantId":"…","mediaLegId":"…","localPorts":[50000]}`
	}
	return err.Error()
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "int", "int64", "uint16":
		return "an integer"
	}
	return kind
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // a failed write is the client's hang-up
}

// writeError answers {"error": msg}.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

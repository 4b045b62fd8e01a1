// Package ops serves the agent's loopback operations endpoints: health, Prometheus metrics and
// the call-identity control input.
//
// It sits beside the flow, not in it: the agent hands it a Snapshot of its counters once a
// second (Server.Observe) and answers Health when /healthz is asked; the conferencing
// application announces call identities through POST /v1/calls, which the agent reads back with
// Identities.Lookup when it builds a record, and ends calls through
// POST /v1/calls/{callChainId}/end, which the agent reads from Identities.Ended. Nothing here
// touches the per-packet path.
package ops

// Package agent assembles streams into channels and calls, builds one Graph quality record per
// call, and wires capture, metrics and uploader together under one config.
package agent

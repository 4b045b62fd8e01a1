package uploader

import (
	"context"
	"fmt"

	"go.uber.org/zap"
)

// Sink delivers one record body. It returns nil only when the record has been accepted (for
// Graph, any 2xx); a *PermanentError when it never will be; anything else means try again later.
// Send must bound its own time: the uploader lets a send in flight finish at shutdown rather than
// cut it off, since a cut-off request may have been accepted and would then be sent twice.
type Sink interface {
	Send(ctx context.Context, body []byte) error
}

// NewSink builds the sink that cfg.Sink names.
func NewSink(cfg Config, userAgent string, log *zap.Logger) (Sink, error) {
	switch cfg.Sink {
	case SinkGraph:
		return NewGraphSink(cfg.Graph, userAgent, log)
	case SinkOutbox:
		return NewOutboxSink(cfg.OutboxDir)
	default:
		return nil, fmt.Errorf(`uploader.sink: %q is not "graph" or "outbox"`, cfg.Sink)
	}
}

// sendInfo travels in the context of one Send: the uploader fills in the record id, a sink that
// knows them fills in the response details. This keeps Sink a one-method interface while the
// uploader's single outcome log line can still carry Graph's status and request-id.
type sendInfo struct {
	ID        string // spool id of the record being sent
	Status    int    // status of the accepting response
	RequestID string // Graph request-id of the accepting response
	File      string // where the outbox sink wrote the body
}

type sendInfoKey struct{}

func withSendInfo(ctx context.Context, info *sendInfo) context.Context {
	return context.WithValue(ctx, sendInfoKey{}, info)
}

// sendInfoFrom returns the caller's sendInfo, or a throwaway one so sinks need no nil checks.
func sendInfoFrom(ctx context.Context) *sendInfo {
	if info, ok := ctx.Value(sendInfoKey{}).(*sendInfo); ok {
		return info
	}
	return &sendInfo{}
}

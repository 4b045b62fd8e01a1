package agent

import (
	"sync"
	"time"

	"go.uber.org/zap"
)

// warnEvery is how often a repeated warning is logged at most.
const warnEvery = time.Minute

// warnLimiter logs each WARN message at most once per interval: the first occurrence at once,
// later ones only when the interval has passed since the last line, with the count of the
// occurrences left out in between (field "suppressed"). Messages are constant strings (STYLE),
// so keying by message keeps one entry per kind of warning.
type warnLimiter struct {
	log      *zap.Logger
	interval time.Duration
	now      func() time.Time // time.Now, or a test's clock

	mu    sync.Mutex // guards state: capture goroutines of several interfaces may share a limiter
	state map[string]*warnState
}

type warnState struct {
	last       time.Time // when the message was last logged
	suppressed uint64    // occurrences not logged since
}

// newWarnLimiter builds a limiter; interval 0 means warnEvery, now nil means time.Now.
func newWarnLimiter(log *zap.Logger, interval time.Duration, now func() time.Time) *warnLimiter {
	if interval <= 0 {
		interval = warnEvery
	}
	if now == nil {
		now = time.Now
	}
	return &warnLimiter{log: log, interval: interval, now: now, state: map[string]*warnState{}}
}

// Warn logs msg with fields unless it was logged less than an interval ago; it reports whether
// it logged. The line carries "suppressed" when occurrences were left out since the last one.
func (l *warnLimiter) Warn(msg string, fields ...zap.Field) bool {
	suppressed, ok := l.allow(msg)
	if !ok {
		return false
	}
	if suppressed > 0 {
		fields = append(fields, zap.Uint64("suppressed", suppressed))
	}
	l.log.Warn(msg, fields...)
	return true
}

// allow counts one occurrence of msg and says whether it may be logged now, with the number of
// occurrences left out since the last time it was. For callers that build their own line.
func (l *warnLimiter) allow(msg string) (suppressed uint64, ok bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.state[msg]
	if st == nil {
		l.state[msg] = &warnState{last: now}
		return 0, true
	}
	if now.Sub(st.last) < l.interval {
		st.suppressed++
		return 0, false
	}
	suppressed = st.suppressed
	st.last, st.suppressed = now, 0
	return suppressed, true
}

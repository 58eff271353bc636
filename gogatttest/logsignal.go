package gogatttest

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// LogSignal is a slog.Handler to give a backend as its logger when the backend logs the moment
// the suite waits for (for Env.Connecting: that it has begun a connection attempt). Next
// returns a channel closed by the next record, at any level, with an attribute key whose value
// starts with prefix. Every record is also passed on to the handler given to NewLogSignal, if
// any.
type LogSignal struct {
	s       *logSignalState
	forward slog.Handler
}

type logSignalState struct {
	key, prefix string
	mu          sync.Mutex
	next        chan struct{} // closed by the next matching record; nil when nobody waits
}

// NewLogSignal returns a LogSignal for records with attribute key whose value starts with
// prefix; forward, if not nil, receives every record too.
func NewLogSignal(key, prefix string, forward slog.Handler) *LogSignal {
	return &LogSignal{s: &logSignalState{key: key, prefix: prefix}, forward: forward}
}

// Next returns a channel closed by the next matching record logged after the call.
func (l *LogSignal) Next() <-chan struct{} {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.s.next == nil {
		l.s.next = make(chan struct{})
	}
	return l.s.next
}

// Enabled reports true: the signal must see debug records.
func (l *LogSignal) Enabled(context.Context, slog.Level) bool { return true }

// Handle closes the channel Next returned if r matches, and passes r on.
func (l *LogSignal) Handle(ctx context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != l.s.key || !strings.HasPrefix(a.Value.String(), l.s.prefix) {
			return true
		}
		l.s.mu.Lock()
		if l.s.next != nil {
			close(l.s.next)
			l.s.next = nil
		}
		l.s.mu.Unlock()
		return false
	})
	if l.forward != nil && l.forward.Enabled(ctx, r.Level) {
		return l.forward.Handle(ctx, r)
	}
	return nil
}

// WithAttrs returns a LogSignal sharing l's state whose forwarded records carry attrs.
func (l *LogSignal) WithAttrs(attrs []slog.Attr) slog.Handler {
	if l.forward == nil {
		return l
	}
	return &LogSignal{s: l.s, forward: l.forward.WithAttrs(attrs)}
}

// WithGroup returns a LogSignal sharing l's state whose forwarded records are in group name.
func (l *LogSignal) WithGroup(name string) slog.Handler {
	if l.forward == nil {
		return l
	}
	return &LogSignal{s: l.s, forward: l.forward.WithGroup(name)}
}

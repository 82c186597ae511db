package events

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// JSONLines writes one JSON object per line to w (SPEC §11 file sink).
// Writes are serialised; a write error is remembered and reported by Err,
// never panics the emitter.
type JSONLines struct {
	mu  sync.Mutex
	w   *bufio.Writer
	c   io.Closer
	err error
}

// NewJSONLines returns a sink writing to w. If w is an io.Closer, Close closes it.
func NewJSONLines(w io.Writer) *JSONLines {
	s := &JSONLines{w: bufio.NewWriter(w)}
	if c, ok := w.(io.Closer); ok {
		s.c = c
	}
	return s
}

// OpenJSONLinesFile opens (append, create 0600) path and returns a sink.
func OpenJSONLinesFile(path string) (*JSONLines, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("events file %s: %w", path, err)
	}
	return NewJSONLines(f), nil
}

// Emit implements Sink. Each event is flushed so a reader (tail -f, a test)
// sees it at once.
func (s *JSONLines) Emit(e Event) {
	b, err := json.Marshal(e)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	if err != nil {
		s.err = err
		return
	}
	if _, err := s.w.Write(append(b, '\n')); err != nil {
		s.err = err
		return
	}
	if err := s.w.Flush(); err != nil {
		s.err = err
	}
}

// Err returns the first write error, if any.
func (s *JSONLines) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close flushes and closes the underlying writer if it is closable. Idempotent.
func (s *JSONLines) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ferr := s.w.Flush()
	if s.c != nil {
		c := s.c
		s.c = nil
		if err := c.Close(); err != nil {
			return err
		}
	}
	return ferr
}

// Human writes one readable line per event, for stderr and the demo:
//
//	07:58:59.123 alice  web4.rtt.session_up  12D3Koo…  channel=control session=…
type Human struct {
	mu    sync.Mutex
	w     io.Writer
	label string
	types map[string]bool // nil = all
}

// NewHuman returns a readable sink. label prefixes every line (e.g. the
// node's name in the demo); types, if non-empty, restricts output to those
// event types or type prefixes ending in ".".
func NewHuman(w io.Writer, label string, types ...string) *Human {
	h := &Human{w: w, label: label}
	if len(types) > 0 {
		h.types = map[string]bool{}
		for _, t := range types {
			h.types[t] = true
		}
	}
	return h
}

func (h *Human) wants(typ string) bool {
	if h.types == nil {
		return true
	}
	if h.types[typ] {
		return true
	}
	for t := range h.types {
		if strings.HasSuffix(t, ".") && strings.HasPrefix(typ, t) {
			return true
		}
	}
	return false
}

// Emit implements Sink.
func (h *Human) Emit(e Event) {
	if !h.wants(e.Type) {
		return
	}
	line := FormatHuman(e, h.label)
	h.mu.Lock()
	defer h.mu.Unlock()
	_, _ = io.WriteString(h.w, line+"\n")
}

// FormatHuman renders e on one line: time, label, type, short subject, and
// the data fields sorted by key.
func FormatHuman(e Event, label string) string {
	var b strings.Builder
	b.WriteString(e.Time.Local().Format("15:04:05.000"))
	if label != "" {
		fmt.Fprintf(&b, " %-6s", label)
	}
	fmt.Fprintf(&b, " %-32s", e.Type)
	if e.Subject != "" {
		b.WriteString(" ")
		b.WriteString(Short(e.Subject))
	}
	keys := make([]string, 0, len(e.Data))
	for k := range e.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := e.Data[k]
		var s string
		switch x := v.(type) {
		case string:
			s = x
			if len(s) > 80 {
				s = s[:77] + "..."
			}
			if strings.ContainsAny(s, " \t\n") {
				s = fmt.Sprintf("%q", s)
			}
		case time.Duration:
			s = x.String()
		default:
			bs, _ := json.Marshal(x)
			s = string(bs)
			if len(s) > 80 {
				s = s[:77] + "..."
			}
		}
		fmt.Fprintf(&b, " %s=%s", k, s)
	}
	return b.String()
}

// Short abbreviates a long identifier (PeerID, fingerprint) for display.
func Short(id string) string {
	if len(id) <= 16 {
		return id
	}
	return id[:6] + "…" + id[len(id)-6:]
}

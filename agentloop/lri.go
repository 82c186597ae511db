package agentloop

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// LoadSample is the process load at one moment, each share in [0,1].
type LoadSample struct {
	CPU    float64 // CPU time used since the previous sample / (wall time × CPUs)
	Memory float64 // resident memory / memory available to the process
}

// Sampler measures process load. The loop calls Sample once per cycle on
// its goroutine; an error keeps the previous sample (and emits an event).
type Sampler interface {
	Sample() (LoadSample, error)
}

// SamplerFunc adapts a function to a Sampler.
type SamplerFunc func() (LoadSample, error)

// Sample calls f.
func (f SamplerFunc) Sample() (LoadSample, error) { return f() }

// ProcSampler measures the real process: CPU from getrusage (user+system
// time) between samples, memory as RSS (/proc/self/statm, else the Go
// runtime's total) over the memory limit (the cgroup v2 memory.max if set,
// else MemTotal from /proc/meminfo, else the Go memory limit). Safe for
// concurrent use.
type ProcSampler struct {
	mu      sync.Mutex
	now     func() time.Time
	lastCPU time.Duration
	lastAt  time.Time
	limit   uint64
}

// NewProcSampler returns a sampler primed with the current CPU time, so
// the first Sample covers the time since construction. memLimit is the
// memory budget that counts as full (bytes); 0 detects it (cgroup limit,
// else physical memory, else the Go memory limit). An agent sharing a big
// machine should pass its own budget, or memory barely moves the LRI.
func NewProcSampler(memLimit uint64) *ProcSampler {
	if memLimit == 0 {
		memLimit = memoryLimit()
	}
	s := &ProcSampler{now: time.Now, limit: memLimit}
	s.lastCPU, _ = cpuTime()
	s.lastAt = s.now()
	return s
}

// Sample implements Sampler.
func (s *ProcSampler) Sample() (LoadSample, error) {
	cpu, err := cpuTime()
	if err != nil {
		return LoadSample{}, err
	}
	s.mu.Lock()
	now := s.now()
	wall := now.Sub(s.lastAt)
	used := cpu - s.lastCPU
	s.lastCPU, s.lastAt = cpu, now
	s.mu.Unlock()
	var share float64
	if wall > 0 {
		share = float64(used) / (float64(wall) * float64(runtime.NumCPU()))
	}
	rss := residentBytes()
	var mem float64
	if s.limit > 0 {
		mem = float64(rss) / float64(s.limit)
	}
	return LoadSample{CPU: clamp01(share), Memory: clamp01(mem)}, nil
}

func cpuTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("agentloop: getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// residentBytes is the process RSS; off Linux, the Go runtime's own total.
func residentBytes() uint64 {
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 2 {
			if pages, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				return pages * uint64(os.Getpagesize())
			}
		}
	}
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		return s[0].Value.Uint64()
	}
	return 0
}

// memoryLimit is the memory available to the process (see ProcSampler).
func memoryLimit() uint64 {
	var limit uint64
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseUint(f[1], 10, 64); err == nil {
					limit = kb * 1024
				}
			}
		}
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && v > 0 && (limit == 0 || v < limit) {
			limit = v
		}
	}
	if limit == 0 {
		// The Go memory limit, if one was set (MaxInt64 means unset).
		s := []metrics.Sample{{Name: "/gc/gomemlimit:bytes"}}
		metrics.Read(s)
		if s[0].Value.Kind() == metrics.KindUint64 && s[0].Value.Uint64() < math.MaxInt64 {
			limit = s[0].Value.Uint64()
		}
	}
	return limit
}

// ErrSampler is wrapped by sampler failures reported in events.
var ErrSampler = errors.New("agentloop: load sampler failed")

// LoadInputs are the four LRI components before weighting.
type LoadInputs struct {
	Load       LoadSample
	InboxDepth int
	InboxCap   int
	Latency    time.Duration
}

// ComputeLRI is the load index 0–100: the weighted mean of CPU share,
// memory share, inbox fill and latency/ceiling (each clamped to [0,1]),
// rounded. Pure.
func ComputeLRI(w Weights, ceiling time.Duration, in LoadInputs) int {
	sum := w.CPU + w.Memory + w.Inbox + w.Latency
	if sum <= 0 {
		return 0
	}
	var inbox, lat float64
	if in.InboxCap > 0 {
		inbox = float64(in.InboxDepth) / float64(in.InboxCap)
	}
	if ceiling > 0 {
		lat = float64(in.Latency) / float64(ceiling)
	}
	x := w.CPU*clamp01(in.Load.CPU) + w.Memory*clamp01(in.Load.Memory) + w.Inbox*clamp01(inbox) + w.Latency*clamp01(lat)
	return int(math.Round(100 * x / sum))
}

// NextPresence is the presence rule of SPEC §10 with hysteresis. Pure.
//
//   - overloaded from LRI ≥ OverloadEnter, and stays overloaded until
//     LRI < OverloadExit;
//   - otherwise diffuse with no active intent;
//   - focused with exactly one active intent and LRI < FocusedEnter (once
//     focused, until LRI ≥ FocusedExit);
//   - engaged otherwise (an active intent, but several or under load).
func NextPresence(cfg Config, cur envelope.Presence, lri, active int) envelope.Presence {
	if lri >= cfg.OverloadEnter || (cur == envelope.Overloaded && lri >= cfg.OverloadExit) {
		return envelope.Overloaded
	}
	switch {
	case active <= 0:
		return envelope.Diffuse
	case active == 1 && (lri < cfg.FocusedEnter || (cur == envelope.Focused && lri < cfg.FocusedExit)):
		return envelope.Focused
	default:
		return envelope.Engaged
	}
}

func clamp01(x float64) float64 {
	switch {
	case math.IsNaN(x) || x < 0:
		return 0
	case x > 1:
		return 1
	}
	return x
}

package rtt

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	if err := c.validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	if c.HandshakeTimeout != 10*time.Second || c.HeartbeatInterval != 5*time.Second || c.HeartbeatMisses != 3 ||
		c.MaxFrameSize != 1<<20 || c.SendQueueFrames != 1024 || c.SendQueueBytes != 8<<20 ||
		c.BackoffMin != 100*time.Millisecond || c.BackoffMax != 30*time.Second {
		t.Fatalf("defaults differ from SPEC §2: %+v", c)
	}
	bad := []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.HeartbeatMisses = 0 }, "HeartbeatMisses"},
		{func(c *Config) { c.RecvQueueBytes = 10 }, "RecvQueueBytes"},
		{func(c *Config) { c.BackoffMax = time.Millisecond }, "BackoffMax"},
		{func(c *Config) { c.MaxFrameSize = 1 << 30 }, "MaxFrameSize"},
	}
	for _, tc := range bad {
		c := DefaultConfig()
		tc.mod(&c)
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want error naming %s, got %v", tc.want, err)
		}
	}
	if _, err := NewService(nil, DefaultConfig()); err == nil {
		t.Fatal("nil host accepted")
	}
}

func TestJitterAndBackoff(t *testing.T) {
	s := &Service{cfg: DefaultConfig()}
	s.cfg.Rand = bytes.NewReader(bytes.Repeat([]byte{0xff, 0x13, 0x77, 0x01, 0, 0x80, 0x42, 0x09}, 64))
	for range 32 {
		d := s.jitter(100 * time.Millisecond)
		if d < 50*time.Millisecond || d > 100*time.Millisecond {
			t.Fatalf("jitter %v outside [50ms, 100ms]", d)
		}
	}
	d, prev := 100*time.Millisecond, time.Duration(0)
	for range 20 {
		prev, d = d, nextBackoff(d, 30*time.Second)
		if d < prev || d > 30*time.Second {
			t.Fatalf("backoff %v after %v", d, prev)
		}
	}
	if d != 30*time.Second {
		t.Fatalf("backoff does not reach the cap: %v", d)
	}
}

// TestOnSessionAndSharedRegistry: OnSession sees inbound sessions, and two
// services may share one Prometheus registry.
func TestOnSessionAndSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	got := make(chan *Transport, 1)
	cfgB := testConfig()
	cfgB.OnSession = func(tr *Transport) { got <- tr }
	cfgB.Registerer = reg
	cfgA := testConfig()
	cfgA.Registerer = reg
	ha, hb := newHost(t, false), newHost(t, false)
	know(ha, hb)
	sa, err := NewService(ha, cfgA)
	if err != nil {
		t.Fatal(err)
	}
	defer sa.Close()
	sb, err := NewService(hb, cfgB)
	if err != nil {
		t.Fatalf("second service on the same registry: %v", err)
	}
	defer sb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ta, err := sa.Dial(ctx, hb.ID())
	if err != nil {
		t.Fatal(err)
	}
	select {
	case tb := <-got:
		if tb.SessionID() != ta.SessionID() {
			t.Fatal("OnSession got another session")
		}
	case <-ctx.Done():
		t.Fatal("OnSession not called")
	}
}

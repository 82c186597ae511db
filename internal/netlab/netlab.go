// Package netlab builds throwaway networks of Linux network namespaces for
// tests that must cross real network stacks: a "public" bridge network,
// hosts on it, and hosts each behind a NAT router of its own (nftables
// masquerade plus a home router's stateful firewall).
//
// Everything lives in namespaces named <prefix><pid>-<name>: the bridge
// sits in a namespace of its own, each veth pair is created inside
// namespaces, and the root namespace gets no device, address or route.
// Addresses come from the benchmarking range 198.18.0.0/15 only:
// 198.18.0.0/24 is the public network, 198.19.N.0/24 the LAN behind NAT
// router N. Close (registered with t.Cleanup) deletes the namespaces, which
// takes their devices with them; New first deletes the leftovers of runs
// whose process is gone (a crashed or killed test).
//
// It needs root, ip (iproute2) and nft (nftables): Require fails the test
// when CI=true and skips it, saying why, elsewhere.
package netlab

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Prefix starts the name of every namespace netlab creates.
const Prefix = "w4lab"

// PublicNet is the public network's prefix; LANs are 198.19.N.0/24.
const PublicNet = "198.18.0.0/15"

// Require fails (CI=true) or skips tb unless it runs as root with ip and
// nft on PATH and may create a network namespace.
func Require(tb testing.TB) {
	tb.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool+" (apt-get install "+map[string]string{"ip": "iproute2", "nft": "nftables"}[tool]+")")
		}
	}
	if len(missing) == 0 {
		name := fmt.Sprintf("%s%d-probe", Prefix, os.Getpid())
		if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
			missing = append(missing, "ip netns add: "+strings.TrimSpace(string(out)))
		} else {
			_ = exec.Command("ip", "netns", "del", name).Run()
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "NETWORK-NAMESPACE TEST NOT RUN: needs " + strings.Join(missing, ", ")
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg + " (CI=true: .ci/run installs nftables and iproute2 and runs as root)")
	}
	tb.Skip(msg)
}

// Lab is one test's set of namespaces.
type Lab struct {
	tb     testing.TB
	prefix string
	sw     string // the namespace holding the public bridge

	mu     sync.Mutex
	spaces []string
	pub    int // public hosts and routers attached so far
	lans   int
}

// Host is a namespace with one interface, eth0.
type Host struct {
	lab *Lab
	// NS is the namespace's name; Name the one the test gave it.
	NS, Name string
	// IP is eth0's address: on the public network, or on the LAN behind
	// its router.
	IP string
	// Router is the public address of the NAT router in front of the
	// host ("" for a public host).
	Router string
}

// New checks the requirements (Require), removes stale namespaces of dead
// runs, and creates the public bridge; Close runs at the end of tb.
func New(tb testing.TB) *Lab {
	tb.Helper()
	Require(tb)
	RemoveStale()
	// Two labs of one process (a test, then a benchmark) keep their
	// names apart by a sequence number.
	labSeq.Lock()
	labSeq.n++
	l := &Lab{tb: tb, prefix: fmt.Sprintf("%s%d-%d", Prefix, os.Getpid(), labSeq.n)}
	labSeq.Unlock()
	tb.Cleanup(l.Close)
	l.sw = l.add("sw")
	l.run("ip", "-n", l.sw, "link", "add", "br0", "type", "bridge")
	l.run("ip", "-n", l.sw, "link", "set", "br0", "up")
	return l
}

var labSeq struct {
	sync.Mutex
	n int
}

// RemoveStale deletes namespaces named by netlab for a process that no
// longer runs.
func RemoveStale() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], Prefix) {
			continue
		}
		digits := strings.TrimPrefix(f[0], Prefix)
		end := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' })
		if end <= 0 {
			continue
		}
		pid, _ := strconv.Atoi(digits[:end])
		if pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue // this process, or one still running
		}
		_ = exec.Command("ip", "netns", "del", f[0]).Run()
	}
}

func (l *Lab) add(name string) string {
	l.tb.Helper()
	ns := l.prefix + "-" + name
	l.run("ip", "netns", "add", ns)
	l.mu.Lock()
	l.spaces = append(l.spaces, ns)
	l.mu.Unlock()
	l.run("ip", "-n", ns, "link", "set", "lo", "up")
	return ns
}

// run runs a setup command; a failure fails the test.
func (l *Lab) run(args ...string) {
	l.tb.Helper()
	if err := l.try(nil, args...); err != nil {
		l.tb.Fatal(err)
	}
}

func (l *Lab) try(stdin []byte, args ...string) error {
	cmd := exec.Command(args[0], args[1:]...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("netlab: %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// uplink creates namespace name with eth0 on the public bridge at ip.
func (l *Lab) uplink(name, ip string) string {
	ns := l.add(name)
	l.run("ip", "-n", l.sw, "link", "add", name, "type", "veth", "peer", "name", "eth0", "netns", ns)
	l.run("ip", "-n", l.sw, "link", "set", name, "master", "br0", "up")
	l.run("ip", "-n", ns, "addr", "add", ip+"/24", "dev", "eth0")
	l.run("ip", "-n", ns, "link", "set", "eth0", "up")
	return ns
}

// Public adds a host on the public network (198.18.0.N).
func (l *Lab) Public(name string) *Host {
	l.tb.Helper()
	l.mu.Lock()
	l.pub++
	ip := fmt.Sprintf("198.18.0.%d", l.pub)
	l.mu.Unlock()
	return &Host{lab: l, NS: l.uplink(name, ip), Name: name, IP: ip}
}

// routerRules is the NAT router's nftables ruleset (router.nft: masquerade
// and a home router's stateful firewall; scripts/netns-mesh.sh loads the
// same file).
//
//go:embed router.nft
var routerRules []byte

// NATed adds a router on the public network and host name behind it on a
// LAN of its own (198.19.N.2, router 198.19.N.1).
func (l *Lab) NATed(name string) *Host {
	l.tb.Helper()
	l.mu.Lock()
	l.pub++
	l.lans++
	pubIP, lan := fmt.Sprintf("198.18.0.%d", l.pub), l.lans
	l.mu.Unlock()
	r := l.uplink(name+"-gw", pubIP)
	ns := l.add(name)
	gw, ip := fmt.Sprintf("198.19.%d.1", lan), fmt.Sprintf("198.19.%d.2", lan)
	l.run("ip", "-n", r, "link", "add", "lan0", "type", "veth", "peer", "name", "eth0", "netns", ns)
	l.run("ip", "-n", r, "addr", "add", gw+"/24", "dev", "lan0")
	l.run("ip", "-n", r, "link", "set", "lan0", "up")
	l.run("ip", "-n", ns, "addr", "add", ip+"/24", "dev", "eth0")
	l.run("ip", "-n", ns, "link", "set", "eth0", "up")
	l.run("ip", "-n", ns, "route", "add", "default", "via", gw)
	l.run("ip", "netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	if err := l.try(routerRules, "ip", "netns", "exec", r, "nft", "-f", "-"); err != nil {
		l.tb.Fatal(err)
	}
	return &Host{lab: l, NS: ns, Name: name, IP: ip, Router: pubIP}
}

// Command runs name with args inside h's namespace.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// SetLink takes h's eth0 down (false) or up again (true): the cable
// pulled and plugged back.
func (h *Host) SetLink(up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	if err := h.lab.try(nil, "ip", "-n", h.NS, "link", "set", "eth0", state); err != nil {
		return err
	}
	if up && h.Router != "" {
		// The default route went with the link.
		gw := h.IP[:strings.LastIndex(h.IP, ".")] + ".1"
		return h.lab.try(nil, "ip", "-n", h.NS, "route", "replace", "default", "via", gw)
	}
	return nil
}

// Close deletes every namespace of the lab (their devices go with them);
// idempotent.
func (l *Lab) Close() {
	l.mu.Lock()
	spaces := l.spaces
	l.spaces = nil
	l.mu.Unlock()
	for i := len(spaces) - 1; i >= 0; i-- {
		if err := l.try(nil, "ip", "netns", "del", spaces[i]); err != nil {
			l.tb.Errorf("cleanup: %v", err)
		}
	}
}

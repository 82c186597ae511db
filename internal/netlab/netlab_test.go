package netlab

import (
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// inNS runs f on an OS thread switched into namespace ns; sockets f
// creates belong to ns and may be used from any goroutine afterwards. The
// thread is discarded (its goroutine ends still locked).
func inNS(t *testing.T, ns string, f func()) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		f()
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// A host behind a NAT router reaches the public network under the
// router's address; from the public network neither its own address nor
// the router's lets anyone in. Close leaves no namespace behind.
func TestNATHidesTheHostBehindIt(t *testing.T) {
	lab := New(t)
	pub, nat := lab.Public("pub"), lab.NATed("nat")
	var pubL, natL net.Listener
	inNS(t, pub.NS, func() { pubL, _ = net.Listen("tcp4", pub.IP+":0") })
	inNS(t, nat.NS, func() { natL, _ = net.Listen("tcp4", "0.0.0.0:0") })
	if pubL == nil || natL == nil {
		t.Fatal("listen inside the namespaces failed")
	}
	defer pubL.Close()
	defer natL.Close()

	accepted := make(chan string, 1)
	go func() {
		c, err := pubL.Accept()
		if err != nil {
			accepted <- err.Error()
			return
		}
		accepted <- c.RemoteAddr().(*net.TCPAddr).IP.String()
		c.Close()
	}()
	var dialErr error
	inNS(t, nat.NS, func() {
		var c net.Conn
		if c, dialErr = net.DialTimeout("tcp4", pubL.Addr().String(), 5*time.Second); dialErr == nil {
			c.Close()
		}
	})
	if dialErr != nil {
		t.Fatalf("NATed host cannot reach the public one: %v", dialErr)
	}
	if from := <-accepted; from != nat.Router {
		t.Fatalf("public host saw the connection from %s, want the router's %s (masquerade)", from, nat.Router)
	}

	port := natL.Addr().(*net.TCPAddr).Port
	for _, target := range []string{nat.IP, nat.Router} {
		inNS(t, pub.NS, func() {
			c, err := net.DialTimeout("tcp4", net.JoinHostPort(target, itoa(port)), 500*time.Millisecond)
			if err == nil {
				c.Close()
				t.Errorf("public host got in to %s:%d", target, port)
			}
		})
	}

	lab.Close()
	if left := labSpaces(t, lab.prefix); len(left) > 0 {
		t.Fatalf("namespaces left after Close: %v", left)
	}
}

// RemoveStale deletes a namespace of a process that is gone and keeps
// this process's own.
func TestRemoveStale(t *testing.T) {
	Require(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := Prefix + itoa(dead.Process.Pid) + "-1-x"
	own := Prefix + itoa(os.Getpid()) + "-99-x"
	for _, ns := range []string{stale, own} {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	defer exec.Command("ip", "netns", "del", own).Run()
	defer exec.Command("ip", "netns", "del", stale).Run()
	RemoveStale()
	if left := labSpaces(t, stale); len(left) != 0 {
		t.Fatalf("stale namespace kept: %v", left)
	}
	if left := labSpaces(t, own); len(left) != 1 {
		t.Fatalf("own namespace removed")
	}
}

func labSpaces(t *testing.T, prefix string) []string {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], prefix) {
			names = append(names, f[0])
		}
	}
	return names
}

func itoa(n int) string { return strconv.Itoa(n) }

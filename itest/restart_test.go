package itest

import (
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// cli runs the binary and decodes its --json output into out.
func cli(t testing.TB, out any, args ...string) error {
	t.Helper()
	b, err := exec.Command(binary(t), append(args, "--json")...).Output()
	if err != nil {
		return fmt.Errorf("%v: %w", args, err)
	}
	return json.Unmarshal(b, out)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestSessionRestartsAfterPeerCrash: A holds an RTT session it opened to B;
// B is killed (SIGKILL) and restarted on the same address and data dir.
// A's resume is answered "unknown session"; A then opens a fresh session by
// itself (web4.node.session_restarted) and the CIP handshake runs again on
// both sides — without anyone having to send first.
func TestSessionRestartsAfterPeerCrash(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	listenB := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", freePort(t))
	b := launch(t, dirB, listenB)
	var st struct {
		PeerID string   `json:"peer_id"`
		Addrs  []string `json:"addrs"`
	}
	if err := cli(t, &st, "status", "--data-dir", dirB); err != nil {
		t.Fatal(err)
	}
	bAddr := listenB + "/p2p/" + st.PeerID
	a := launch(t, dirA, "/ip4/127.0.0.1/tcp/0", "--bootstrap", bAddr)
	defer a.stop()
	waitReady(t, dirA, st.PeerID, 20*time.Second)

	b.kill()
	crashed := time.Now()
	b = launch(t, dirB, listenB)
	defer b.stop()
	e := waitEvent(t, dirA, "web4.node.session_restarted", 60*time.Second)
	t.Logf("fresh session %.1fs after the crash: %v", time.Since(crashed).Seconds(), e["data"])
	waitReady(t, dirA, st.PeerID, 20*time.Second)

	var stA struct {
		PeerID string `json:"peer_id"`
	}
	if err := cli(t, &stA, "status", "--data-dir", dirA); err != nil {
		t.Fatal(err)
	}
	waitReady(t, dirB, stA.PeerID, 20*time.Second) // B ran the CIP handshake with A again
}

// waitReady waits until the node in dir lists p as a peer past the CIP
// handshake.
func waitReady(t *testing.T, dir, p string, d time.Duration) {
	t.Helper()
	var last string
	ok := eventually(ctxFor(t, d), func() bool {
		var out struct {
			Peers []map[string]any `json:"peers"`
		}
		if err := cli(t, &out, "peers", "--data-dir", dir); err != nil {
			last = err.Error()
			return false
		}
		for _, x := range out.Peers {
			if x["peer_id"] == p && x["cip_ready"] == true {
				return true
			}
		}
		b, _ := json.Marshal(out.Peers)
		last = string(b)
		return false
	})
	if !ok {
		t.Fatalf("%s never became ready on %s; last: %s", p, dir, last)
	}
}

// waitEvent waits until the node in dir has recorded an event of typ.
func waitEvent(t *testing.T, dir, typ string, d time.Duration) map[string]any {
	t.Helper()
	var found map[string]any
	ok := eventually(ctxFor(t, d), func() bool {
		b, err := exec.Command(binary(t), "events", "--data-dir", dir, "--type", typ, "--json").Output()
		if err != nil {
			return false
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) == 0 || lines[0] == "" {
			return false
		}
		return json.Unmarshal([]byte(lines[0]), &found) == nil
	})
	if !ok {
		t.Fatalf("no %s event on %s within %v", typ, dir, d)
	}
	return found
}

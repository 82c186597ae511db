package itest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cliJSON runs the CLI with --json and decodes its output into v.
func cliJSON(t *testing.T, v any, args ...string) error {
	t.Helper()
	out, err := exec.Command(binary(t), append(args, "--json")...).Output()
	if err != nil {
		return err
	}
	return json.Unmarshal(out, v)
}

type cliFacts struct {
	Facts []struct {
		ID     string `json:"fact_id"`
		Status string `json:"status"`
	} `json:"facts"`
}

func statusOn(t *testing.T, dir, id string) string {
	var fs cliFacts
	if err := cliJSON(t, &fs, "facts", "--data-dir", dir); err != nil {
		return ""
	}
	for _, f := range fs.Facts {
		if f.ID == id {
			return f.Status
		}
	}
	return ""
}

// Three web4p2p processes that are each other's trust anchors: A proposes a
// fact and B confirms it while C is not running yet; C starts, learns the
// proposal and B's vote from A by anti-entropy, confirms, and `web4p2p
// facts` shows the fact accepted on all three.
func TestFactsConvergeAcrossThreeProcesses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	var anchors []string
	for _, d := range dirs {
		var id struct {
			PeerID string `json:"peer_id"`
		}
		if err := cliJSON(t, &id, "id", "--data-dir", d); err != nil {
			t.Fatal(err)
		}
		anchors = append(anchors, "--trust-anchor", id.PeerID)
	}
	_, stopA := startProcIn(t, dirs[0], anchors...)
	defer stopA()
	var st struct {
		Addrs []string `json:"addrs"`
	}
	if err := cliJSON(t, &st, "status", "--data-dir", dirs[0]); err != nil || len(st.Addrs) == 0 {
		t.Fatalf("status of A: %+v %v", st, err)
	}
	boot := append([]string{"--bootstrap", st.Addrs[0]}, anchors...)
	_, stopB := startProcIn(t, dirs[1], boot...)
	defer stopB()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		if !eventually(ctx, cond) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
	// A and B have a CIP session before A proposes (the proposal is gossiped).
	waitFor("A and B to meet", func() bool {
		var ps struct {
			Peers []struct {
				Session bool   `json:"rtt_session"`
				Trust   string `json:"trust"`
			} `json:"peers"`
		}
		return cliJSON(t, &ps, "peers", "--data-dir", dirs[0]) == nil && len(ps.Peers) == 1 && ps.Peers[0].Session
	})
	var f struct {
		ID string `json:"fact_id"`
	}
	if err := cliJSON(t, &f, "facts", "propose", "--statement", "three processes agree", "--domain", "itest", "--data-dir", dirs[0]); err != nil || f.ID == "" {
		t.Fatalf("propose: %+v %v", f, err)
	}
	waitFor("B to hear the proposal", func() bool { return statusOn(t, dirs[1], f.ID) != "" })
	if out, err := exec.Command(binary(t), "facts", "vote", "--data-dir", dirs[1], f.ID, "confirm").CombinedOutput(); err != nil {
		t.Fatalf("vote on B: %v: %s", err, out)
	}
	// C comes late and learns both from A.
	_, stopC := startProcIn(t, dirs[2], boot...)
	defer stopC()
	waitFor("C to learn the proposal", func() bool { return statusOn(t, dirs[2], f.ID) != "" })
	if out, err := exec.Command(binary(t), "facts", "vote", f.ID, "confirm", "--data-dir", dirs[2]).CombinedOutput(); err != nil {
		t.Fatalf("vote on C: %v: %s", err, out)
	}
	for i, d := range dirs {
		waitFor("the fact accepted on node "+string(rune('A'+i)), func() bool { return statusOn(t, d, f.ID) == "accepted" })
	}
}

// `web4p2p id` on the data dir of a running node prints the addresses the
// node really listens on (ports chosen at start), not the configuration.
func TestIDOnRunningNodeShowsItsAddresses(t *testing.T) {
	dir, stop := startProc(t)
	defer stop()
	var st struct {
		Addrs []string `json:"addrs"`
	}
	if err := cliJSON(t, &st, "status", "--data-dir", dir); err != nil || len(st.Addrs) == 0 {
		t.Fatalf("status: %+v %v", st, err)
	}
	var id struct {
		Addrs   []string `json:"addrs"`
		Running bool     `json:"running"`
	}
	if err := cliJSON(t, &id, "id", "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
	if !id.Running || fmt.Sprint(id.Addrs) != fmt.Sprint(st.Addrs) {
		t.Fatalf("id on a running node: %+v, status says %v", id, st.Addrs)
	}
}

// A node started without trust anchors says so on stderr; with one it
// does not.
func TestStartWarnsWithoutTrustAnchors(t *testing.T) {
	for _, anchored := range []bool{false, true} {
		dir := t.TempDir()
		args := []string{"start", "--data-dir", dir, "--listen", "/ip4/127.0.0.1/tcp/0", "--quiet"}
		if anchored {
			var id struct {
				PeerID string `json:"peer_id"`
			}
			if err := cliJSON(t, &id, "id", "--data-dir", dir); err != nil {
				t.Fatal(err)
			}
			args = append(args, "--trust-anchor", id.PeerID)
		}
		var stderr bytes.Buffer
		cmd := exec.Command(binary(t), args...)
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		tick := time.NewTicker(20 * time.Millisecond)
		for up := false; !up; {
			select {
			case <-ctx.Done():
				up = true // the checks below say what is missing
			case <-tick.C:
				_, err := os.Stat(filepath.Join(dir, "api.addr"))
				up = err == nil
			}
		}
		tick.Stop()
		cancel()
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		warned := strings.Contains(stderr.String(), "no --trust-anchor")
		if warned == anchored {
			t.Fatalf("anchored=%v: warning %v; stderr: %s", anchored, warned, stderr.String())
		}
	}
}

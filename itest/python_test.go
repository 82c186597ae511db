package itest

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestPythonPackage installs the web4p2p Python package (python/) into a
// fresh virtual environment offline, the way a user does (`pip install
// ./python`, with the index switched off so that any download fails), and
// runs its unittest suite with that interpreter: the unit tests, and the
// end-to-end tests against three real `web4p2p start` processes that are
// each other's trust anchors. Under CI=true a missing python3 or venv
// module fails the test.
func TestPythonPackage(t *testing.T) {
	py := needPython(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	venv := filepath.Join(tmp, "venv")
	if out, err := exec.CommandContext(ctx, py, "-m", "venv", venv).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3 -m venv (Debian: apt-get install python3-venv): %v\n%s", err, out)
		}
		t.Skipf("SKIPPED: python3 -m venv does not work here (Debian: apt-get install python3-venv): %v\n%s", err, out)
	}
	vpy := filepath.Join(venv, "bin", "python")
	env := append(os.Environ(), "PIP_NO_INDEX=1", "PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_CACHE_DIR=1",
		"PIP_CONFIG_FILE="+os.DevNull, "PIP_NO_INPUT=1", "PYTHONDONTWRITEBYTECODE=1")
	run := func(dir string, extra []string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, vpy, args...)
		cmd.Dir, cmd.Env = dir, append(env, extra...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run(tmp, nil, "-m", "pip", "install", filepath.Join(repoRoot(), "python"))
	// From a directory outside the checkout, the package is the installed one.
	if where := strings.TrimSpace(run(tmp, nil, "-c", "import web4p2p; print(web4p2p.__file__)")); !strings.HasPrefix(where, venv) {
		t.Fatalf("web4p2p imported from %s, not from the venv %s", where, venv)
	}

	nodes := startAnchoredProcs(t, 3)
	cfg := filepath.Join(tmp, "e2e.json")
	b, _ := json.Marshal(map[string]any{"nodes": nodes})
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := filepath.Join(repoRoot(), "python", "tests")
	out := run(tmp, []string{"WEB4P2P_E2E=" + cfg}, "-m", "unittest", "discover", "-v", "-s", tests, "-t", tests)
	t.Logf("python unittest:\n%s", out)
	if regexp.MustCompile(`(?m)\(test_e2e\.[^)]*\) \.\.\. skipped`).MatchString(out) {
		t.Fatal("end-to-end tests skipped although WEB4P2P_E2E was set")
	}
	if n := len(regexp.MustCompile(`(?m)\(test_e2e\.[^)]*\) \.\.\. ok$`).FindAllString(out, -1)); n < 9 {
		t.Fatalf("%d end-to-end tests passed, want at least 9", n)
	}
}

// procInfo is one started node as the Python tests read it.
type procInfo struct {
	DataDir string `json:"data_dir"`
	PeerID  string `json:"peer_id"`
}

// startAnchoredProcs starts n `web4p2p start` processes that list each
// other as trust anchors, all but the first bootstrapping from the first;
// they are stopped when the test ends.
func startAnchoredProcs(t *testing.T, n int) []procInfo {
	t.Helper()
	var nodes []procInfo
	var anchors []string
	for range n {
		d := t.TempDir()
		var id struct {
			PeerID string `json:"peer_id"`
		}
		if err := cliJSON(t, &id, "id", "--data-dir", d); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, procInfo{DataDir: d, PeerID: id.PeerID})
		anchors = append(anchors, "--trust-anchor", id.PeerID)
	}
	_, stop := startProcIn(t, nodes[0].DataDir, anchors...)
	t.Cleanup(stop)
	var st struct {
		Addrs []string `json:"addrs"`
	}
	if err := cliJSON(t, &st, "status", "--data-dir", nodes[0].DataDir); err != nil || len(st.Addrs) == 0 {
		t.Fatalf("status of the first node: %+v %v", st, err)
	}
	for _, nd := range nodes[1:] {
		_, stop := startProcIn(t, nd.DataDir, append([]string{"--bootstrap", st.Addrs[0]}, anchors...)...)
		t.Cleanup(stop)
	}
	return nodes
}

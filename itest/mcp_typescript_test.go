package itest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMCPWithTypeScriptSDK drives a real node with a client nobody here
// wrote: the official MCP TypeScript SDK (@modelcontextprotocol/sdk,
// pinned in itest/js/mcp/package-lock.json) runs itest/js/mcp/mcp.test.mjs
// against node A over stdio (`web4p2p mcp`) and Streamable HTTP (/mcp),
// with node B as A's peer. Under CI=true (where .ci/run installs Node.js
// and runs npm ci) a missing node or node_modules fails the test; elsewhere
// it skips saying what to run.
func TestMCPWithTypeScriptSDK(t *testing.T) {
	dir := filepath.Join(repoRoot(), "itest", "js", "mcp")
	nodeBin := needNodeModules(t, dir, "@modelcontextprotocol/sdk")
	dirA, stopA := startProc(t)
	defer stopA()
	var st struct {
		PeerID string   `json:"peer_id"`
		Addrs  []string `json:"addrs"`
	}
	if err := cliJSON(t, &st, "status", "--data-dir", dirA); err != nil || len(st.Addrs) == 0 {
		t.Fatalf("status of A: %+v %v", st, err)
	}
	dirB, stopB := startProc(t, "--bootstrap", st.Addrs[0])
	defer stopB()
	var idB struct {
		PeerID string `json:"peer_id"`
	}
	if err := cliJSON(t, &idB, "status", "--data-dir", dirB); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "--test-reporter=spec", "mcp.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "WEB4P2P_BIN="+binary(t), "WEB4P2P_MCP_DIR="+dirA, "WEB4P2P_MCP_PEER="+idB.PeerID)
	out, err := cmd.CombinedOutput()
	t.Logf("node mcp.test.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("the TypeScript SDK client failed: %v", err)
	}
	if !strings.Contains(string(out), "pass 3") || !strings.Contains(string(out), "fail 0") {
		t.Fatal("node's test runner did not report 3 passing tests")
	}
}

// needNodeModules returns the node binary for the npm project in dir
// whose node_modules must hold pkg. Missing either fails under CI=true
// (.ci/run installs them) and skips loudly elsewhere.
func needNodeModules(t *testing.T, dir, pkg string) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf("SKIPPED: "+format, args...)
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH (Debian: apt-get install nodejs npm), so %s cannot run", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", filepath.FromSlash(pkg), "package.json")); err != nil {
		missing("%s is not installed in %s: run 'npm ci' there (.ci/run does)", pkg, dir)
	}
	return nodeBin
}

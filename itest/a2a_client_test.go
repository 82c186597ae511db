package itest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// a2aJSDir holds the official A2A JavaScript client, pinned by its
// package-lock.json (.ci/run runs npm ci there).
var a2aJSDir = filepath.Join("js", "a2a")

// needA2AJS returns node's path once the A2A client is installed; in CI
// (CI=true) a missing node or node_modules fails the test, elsewhere it
// skips saying how to install them.
func needA2AJS(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(a2aJSDir, "node_modules", "@a2a-js", "sdk", "package.json"))
	switch {
	case (err != nil || modErr != nil) && os.Getenv("CI") == "true":
		t.Fatalf("the official A2A client cannot run in CI (node: %v; @a2a-js/sdk: %v): .ci/run must install nodejs and npm and run npm ci in itest/js/a2a", err, modErr)
	case err != nil:
		t.Skipf("SKIPPED: node not on PATH (%v): the official A2A client test cannot run; apt-get install nodejs npm, then npm ci in itest/js/a2a", err)
	case modErr != nil:
		t.Skipf("SKIPPED: @a2a-js/sdk not installed (%v): run npm ci in itest/js/a2a", modErr)
	}
	return node
}

// TestA2AWithOfficialJSClient runs itest/js/a2a/a2a_client.mjs (the
// official @a2a-js/sdk client) against a real node A with a mesh peer B:
// it verifies A's signed card, sends a message that completes with B's
// answer, streams a task to COMPLETED, revokes the human's consent and
// sees AUTH_REQUIRED, then speaks A2A v0.3 with the SDK's legacy
// transport.
func TestA2AWithOfficialJSClient(t *testing.T) {
	nodeBin := needA2AJS(t)
	ctx := ctxFor(t, 60*time.Second)
	a := apiAgent(t, "a")
	b := newAgent(t, "b", nil)
	linked(t, ctx, a, b)
	setConsent(t, ctx, a, envelope.ConsentGranted)

	sctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(sctx, nodeBin, "a2a_client.mjs")
	cmd.Dir = a2aJSDir
	cmd.Env = append(os.Environ(), "A2A_BASE_URL=http://"+a.n.APIAddr(), "A2A_TOKEN="+a.token(), "A2A_PEER_ID="+a.n.ID().String())
	out, err := cmd.CombinedOutput()
	t.Logf("a2a_client.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("the official A2A client failed: %v", err)
	}
	for _, want := range []string{"ok: card verified", "ok: sendMessage completed", "ok: stream went to COMPLETED", "ok: consent revoked -> AUTH_REQUIRED", "ok: v0.3 transport"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

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

// TestA2AWithOfficialJSClient runs itest/js/a2a/a2a_client.mjs (the
// official @a2a-js/sdk client) against a real node A with a mesh peer B:
// it verifies A's signed card, sends a message that completes with B's
// answer, streams a task to COMPLETED, revokes the human's consent and
// sees AUTH_REQUIRED, then speaks A2A v0.3 with the SDK's legacy
// transport.
func TestA2AWithOfficialJSClient(t *testing.T) {
	nodeBin := needNodeModules(t, a2aJSDir, "@a2a-js/sdk")
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

package itest

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/web4p2p/web4p2p/node"
)

// TestMain checks that no test of the package leaves a goroutine behind.
func TestMain(m *testing.M) {
	if os.Getenv(bareListenerEnv) != "" {
		os.Exit(runBareListener())
	}
	_ = node.SetLogLevel("fatal") // libp2p's own chatter; web4p2p reports through events
	goleak.VerifyTestMain(m)
}

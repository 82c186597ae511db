package node

import (
	"fmt"

	logging "github.com/ipfs/go-log/v2"
)

// SetLogLevel sets the level of go-libp2p's own loggers (ipfs/go-log):
// debug, info, warn, error, dpanic, panic, fatal. web4p2p's own observable
// behaviour goes through events, not logs; the default "fatal" keeps
// libp2p's internal error chatter (e.g. fx start-up rollbacks we already
// report as one line) off the operator's terminal.
func SetLogLevel(level string) error {
	lvl, err := logging.Parse(level)
	if err != nil {
		return fmt.Errorf("%w: log level %q: want debug|info|warn|error|fatal", ErrConfig, level)
	}
	logging.SetAllLoggers(lvl)
	return nil
}

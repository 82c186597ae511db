package node

import (
	"fmt"

	logging "github.com/ipfs/go-log/v2"
)

// LogSubsystem is web4p2p's own ipfs/go-log subsystem. Its level governs
// what the operator sees of web4p2p on stderr (events printed there and
// warnings; see OwnLogEnabled); it can also be set with go-log's own
// GOLOG_LOG_LEVEL="web4p2p=warn".
const LogSubsystem = "web4p2p"

var ownLog = logging.Logger(LogSubsystem)

// SetLogLevel sets the level of every ipfs/go-log logger, go-libp2p's and
// web4p2p's own: debug, info, warn, error, dpanic, panic, fatal. "fatal"
// keeps libp2p's internal error chatter (e.g. fx start-up rollbacks we
// already report as one line) off the operator's terminal.
func SetLogLevel(level string) error {
	lvl, err := logging.Parse(level)
	if err != nil {
		return fmt.Errorf("%w: log level %q: want debug|info|warn|error|fatal", ErrConfig, level)
	}
	logging.SetAllLoggers(lvl)
	return nil
}

// SetOwnLogLevel sets web4p2p's own level (LogSubsystem) only.
func SetOwnLogLevel(level string) error {
	if _, err := logging.Parse(level); err != nil {
		return fmt.Errorf("%w: log level %q: want debug|info|warn|error", ErrConfig, level)
	}
	return logging.SetLogLevel(LogSubsystem, level)
}

// OwnLogEnabled reports whether web4p2p's own output at level (debug, info,
// warn, error) is wanted under the current LogSubsystem level. An unknown
// level name is treated as error (shown unless the level is above error).
func OwnLogEnabled(level string) bool {
	l, err := logging.Parse(level)
	if err != nil {
		l = logging.LevelError
	}
	return logging.LogLevel(ownLog.Level()) <= l
}

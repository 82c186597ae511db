package a2a

import "time"

// Limits of the gateway, in one place.
const (
	// MaxRequest bounds one JSON-RPC request (HTTP body or libp2p frame).
	MaxRequest = 256 << 10
	// MaxText bounds the text of one message (all its parts): it becomes
	// the INTENT's context, and envelopes are small.
	MaxText = 8 << 10
	// MaxParts bounds the parts of one message.
	MaxParts = 32
	// MaxID bounds every identifier a client chooses (messageId,
	// contextId, taskId, metadata strings).
	MaxID = 128
	// MaxMetadata bounds the encoded size of a message's metadata.
	MaxMetadata = 4 << 10
	// MaxHistory bounds the messages a task keeps (the first and the
	// most recent ones are kept).
	MaxHistory = 32
	// MaxEvents bounds the stream events a task keeps for subscribers; a
	// task that would pass it (a peer deferring on and on) keeps only its
	// latest status.
	MaxEvents = 64
	// DefaultMaxTasks is Config.MaxTasks unless set.
	DefaultMaxTasks = 1024
	// DefaultTaskDeadline is how long a task may run (retries of a
	// deferred INTENT included) before it fails.
	DefaultTaskDeadline = 2 * time.Minute
	// DefaultIntentWait bounds one INTENT round trip.
	DefaultIntentWait = 10 * time.Second
	// DefaultRetry is the first wait before a deferred INTENT is sent
	// again; it doubles up to MaxRetry.
	DefaultRetry = 500 * time.Millisecond
	MaxRetry     = 5 * time.Second
	// DefaultBlockWait bounds how long a blocking SendMessage waits for a
	// task to finish or be interrupted before it returns it as it is.
	DefaultBlockWait = 60 * time.Second
	// StreamTimeout bounds a forwarded task's libp2p stream (and each
	// frame read on it).
	StreamTimeout = 3 * time.Minute
)

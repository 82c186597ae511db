package reconcile

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/lifecycle"
	"github.com/web4p2p/web4p2p/internal/negentropy"
	"github.com/web4p2p/web4p2p/internal/store"
	"github.com/web4p2p/web4p2p/protocols/envelope"
)

// Protocol is the sync stream protocol.
const Protocol = protocol.ID("/web4/sync/1.0")

// Config tunes the runtime; zero fields take DefaultConfig's values.
type Config struct {
	// Interval is how often the node syncs with one random ready peer.
	Interval time.Duration
	// Retention is how far back the log keeps envelopes (and how old an
	// envelope sync accepts).
	Retention time.Duration
	// MaxItems bounds the log.
	MaxItems int
	// MaxBytes and MaxEnvelopes bound one session, each direction; Rounds
	// its negentropy round trips.
	MaxBytes     int64
	MaxEnvelopes int
	Rounds       int
	// FrameLimit is the negentropy frame size limit.
	FrameLimit int
	// Timeout bounds one session.
	Timeout time.Duration
	// ServeGap is how long after serving a peer the node refuses to serve
	// it again, so one peer cannot keep it reconciling back to back.
	ServeGap time.Duration
	// Now is the clock.
	Now func() time.Time
}

// DefaultConfig: sync every 30 s with a random peer, keep a day of
// envelopes (at most 200,000), a session moves at most 32 MiB and 50,000
// envelopes each way in at most 64 rounds and 60 s.
func DefaultConfig() Config {
	return Config{Interval: 30 * time.Second, Retention: 24 * time.Hour, MaxItems: 200_000,
		MaxBytes: 32 << 20, MaxEnvelopes: 50_000, Rounds: 64, FrameLimit: 64 << 10, Timeout: 60 * time.Second, ServeGap: 2 * time.Second}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Interval <= 0 {
		c.Interval = d.Interval
	}
	if c.Retention <= 0 {
		c.Retention = d.Retention
	}
	if c.MaxItems <= 0 {
		c.MaxItems = d.MaxItems
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = d.MaxBytes
	}
	if c.MaxEnvelopes <= 0 {
		c.MaxEnvelopes = d.MaxEnvelopes
	}
	if c.Rounds <= 0 {
		c.Rounds = d.Rounds
	}
	if c.FrameLimit <= 0 {
		c.FrameLimit = d.FrameLimit
	}
	if c.Timeout <= 0 {
		c.Timeout = d.Timeout
	}
	if c.ServeGap < 0 {
		c.ServeGap = 0
	} else if c.ServeGap == 0 {
		c.ServeGap = d.ServeGap
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Deps are the runtime's collaborators.
type Deps struct {
	Host  host.Host
	Store *store.DB
	// Apply takes one envelope a peer sent over sync down the node's full
	// gossip receive path (validation, routing) and reports whether it was
	// accepted; accepted envelopes are added to the log by the caller of
	// Record (the mesh), not here.
	Apply func(ctx context.Context, from peer.ID, raw []byte) error
	// Ready reports whether p is past the CIP handshake (only such peers
	// are served), and Peers lists them (for the periodic sync).
	Ready  func(p peer.ID) bool
	Peers  func() []peer.ID
	Events *events.Emitter
	Group  *lifecycle.Group
}

// Runtime is the anti-entropy runtime of one node.
type Runtime struct {
	cfg  Config
	deps Deps
	log  *Log

	mu     sync.Mutex
	active map[session]bool      // a session with the peer, in that role, is running
	served map[peer.ID]time.Time // when the last session served to the peer ended
}

// session names a running session: the peer and whether we initiated it.
// One session per peer and role: a second is refused (errBusy), so a peer
// cannot make this node run sessions with it in parallel.
type session struct {
	p         peer.ID
	initiator bool
}

// New opens the log.
func New(cfg Config, deps Deps) (*Runtime, error) {
	if deps.Host == nil || deps.Store == nil || deps.Apply == nil || deps.Ready == nil || deps.Peers == nil || deps.Group == nil {
		return nil, errors.New("reconcile: Host, Store, Apply, Ready, Peers and Group are required")
	}
	cfg = cfg.withDefaults()
	l, err := OpenLog(deps.Store, cfg.Retention, cfg.MaxItems)
	if err != nil {
		return nil, err
	}
	l.Prune(cfg.Now())
	return &Runtime{cfg: cfg, deps: deps, log: l, active: map[session]bool{}, served: map[peer.ID]time.Time{}}, nil
}

// Log is the envelope log.
func (r *Runtime) Log() *Log { return r.log }

// Record keeps an envelope the node accepted (or published), for peers
// that lack it. Envelopes older than the retention are not kept.
func (r *Runtime) Record(env *envelope.Envelope) {
	if _, err := r.log.Add(env.Raw(), env.Timestamp, r.cfg.Now()); err != nil && !errors.Is(err, errTooOld) {
		r.deps.Events.Error("sync", "log", env.MsgID, err, nil)
	}
}

// MaxAge is how old an envelope sync accepts (the retention).
func (r *Runtime) MaxAge() time.Duration { return r.cfg.Retention }

// Open registers the stream handler and starts the periodic sync.
func (r *Runtime) Open() {
	r.deps.Host.SetStreamHandler(Protocol, r.serve)
	r.deps.Group.Every(time.Second, func(context.Context) {
		if err := r.log.Flush(); err != nil {
			r.deps.Events.Error("sync", "log_flush", "", err, nil)
		}
	})
	r.deps.Group.Every(r.cfg.Interval, func(ctx context.Context) {
		r.log.Prune(r.cfg.Now())
		ps := r.deps.Peers()
		if len(ps) == 0 {
			return
		}
		p := ps[rand.IntN(len(ps))]
		if _, err := r.Sync(ctx, p); err != nil && ctx.Err() == nil {
			r.deps.Events.Error("sync", "periodic", p.String(), err, nil)
		}
	})
}

// Close removes the stream handler and writes what the log holds in
// memory.
func (r *Runtime) Close() error {
	r.deps.Host.RemoveStreamHandler(Protocol)
	return r.log.Flush()
}

// Stats is what one session did.
type Stats struct {
	Rounds        int   `json:"rounds"`
	BytesOut      int64 `json:"bytes_out"`
	BytesIn       int64 `json:"bytes_in"`
	Received      int   `json:"received"`
	Accepted      int   `json:"accepted"`
	Sent          int   `json:"sent"`
	ReconcileSent int64 `json:"reconcile_bytes"`
}

// errBusy: a session with the peer is already running.
var errBusy = errors.New("reconcile: a session with this peer is running")

func (r *Runtime) claim(s session) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active[s] {
		return false
	}
	r.active[s] = true
	return true
}

func (r *Runtime) release(s session) {
	r.mu.Lock()
	delete(r.active, s)
	if !s.initiator {
		r.served[s.p] = time.Now()
	}
	r.mu.Unlock()
}

// claimServe is claim for a responder session, refused within ServeGap of
// the last one served to the peer.
func (r *Runtime) claimServe(s session) bool {
	r.mu.Lock()
	last, ok := r.served[s.p]
	if ok && time.Since(last) < r.cfg.ServeGap {
		r.mu.Unlock()
		return false
	}
	if len(r.served) > 4096 { // forget peers served long ago
		for p, at := range r.served {
			if time.Since(at) >= r.cfg.ServeGap {
				delete(r.served, p)
			}
		}
	}
	r.mu.Unlock()
	return r.claim(s)
}

// Sync reconciles the log with p (initiator side): what p has and this
// node lacks is fetched and applied, what p lacks is sent.
func (r *Runtime) Sync(ctx context.Context, p peer.ID) (Stats, error) {
	var st Stats
	me := session{p: p, initiator: true}
	if !r.claim(me) {
		return st, errBusy
	}
	defer r.release(me)
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	s, err := r.deps.Host.NewStream(ctx, p, Protocol)
	if err != nil {
		return st, err
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	f := r.frames(s)
	err = r.initiate(ctx, p, f, &st)
	st.BytesIn, st.BytesOut = f.in, f.out
	r.report(p, "initiator", st, err)
	if err != nil {
		_ = s.Reset()
	}
	return st, err
}

func (r *Runtime) frames(s network.Stream) *frameIO {
	return &frameIO{r: bufio.NewReader(s), w: s, maxFrame: max(r.cfg.FrameLimit, envelope.MaxSize) + 64, maxBytes: r.cfg.MaxBytes}
}

func (r *Runtime) report(p peer.ID, role string, st Stats, err error) {
	d := map[string]any{"role": role, "rounds": st.Rounds, "bytes_in": st.BytesIn, "bytes_out": st.BytesOut,
		"received": st.Received, "accepted": st.Accepted, "sent": st.Sent}
	if err != nil {
		d["detail"] = err.Error()
	}
	r.deps.Events.Emit("web4.sync.session", p.String(), d)
}

// negentropy starts a reconciliation session over the log as it is now.
func (r *Runtime) negentropy() (*negentropy.Session, error) {
	snap, err := r.log.Snapshot()
	if err != nil {
		return nil, err
	}
	return negentropy.New(snap, r.cfg.FrameLimit)
}

func (r *Runtime) initiate(ctx context.Context, p peer.ID, f *frameIO, st *Stats) error {
	ng, err := r.negentropy()
	if err != nil {
		return err
	}
	msg, err := ng.Initiate()
	if err != nil {
		return err
	}
	var have, need []ID
	for msg != nil {
		if st.Rounds++; st.Rounds > r.cfg.Rounds {
			return fmt.Errorf("%w: %d rounds", ErrBudget, r.cfg.Rounds)
		}
		if err := f.write(kindNeg, msg); err != nil {
			return err
		}
		st.ReconcileSent += int64(len(msg))
		_, body, err := f.expect(kindNeg)
		if err != nil {
			return err
		}
		var h, n []ID
		msg, h, n, err = ng.ReconcileClient(body)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		have, need = append(have, h...), append(need, n...)
	}
	if err := f.write(kindDone, nil); err != nil {
		return err
	}
	// Phase 2: fetch what we lack.
	if len(need) > r.cfg.MaxEnvelopes {
		need = need[:r.cfg.MaxEnvelopes]
	}
	for i := 0; i < len(need); i += maxIDsPer {
		chunk := need[i:min(i+maxIDsPer, len(need))]
		body := make([]byte, 0, len(chunk)*len(ID{}))
		for _, id := range chunk {
			body = append(body, id[:]...)
		}
		if err := f.write(kindWant, body); err != nil {
			return err
		}
	}
	if err := f.write(kindDone, nil); err != nil {
		return err
	}
	wanted := make(map[ID]bool, len(need))
	for _, id := range need {
		wanted[id] = true
	}
	for {
		k, body, err := f.expect(kindEnv, kindDone)
		if err != nil {
			return err
		}
		if k == kindDone {
			break
		}
		id := IDOf(body)
		if !wanted[id] {
			return fmt.Errorf("%w: an envelope that was not asked for", ErrProtocol)
		}
		delete(wanted, id)
		st.Received++
		if r.deps.Apply(ctx, p, body) == nil {
			st.Accepted++
		}
	}
	// Phase 3: send what the peer lacks.
	if len(have) > r.cfg.MaxEnvelopes {
		have = have[:r.cfg.MaxEnvelopes]
	}
	if err := r.send(f, have, st); err != nil {
		return err
	}
	if err := f.write(kindDone, nil); err != nil {
		return err
	}
	// The responder acknowledges once it has applied what was pushed.
	_, _, err = f.expect(kindDone)
	return err
}

// send writes an 'E' frame for each of ids the log still keeps (ids pruned
// meanwhile are skipped), reading them a chunk at a time: one read
// transaction per chunk, none held while writing to the network.
func (r *Runtime) send(f *frameIO, ids []ID, st *Stats) error {
	for i := 0; i < len(ids); i += maxIDsPer {
		for _, raw := range r.log.GetMany(ids[i:min(i+maxIDsPer, len(ids))]) {
			if err := f.write(kindEnv, raw); err != nil {
				return err
			}
			st.Sent++
		}
	}
	return nil
}

// serve answers a peer's sync session.
func (r *Runtime) serve(s network.Stream) {
	p := s.Conn().RemotePeer()
	me := session{p: p}
	if !r.deps.Ready(p) || !r.claimServe(me) {
		_ = s.Reset()
		return
	}
	if !r.deps.Group.Go(func(ctx context.Context) {
		defer r.release(me)
		ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		defer cancel()
		stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
		defer stop()
		var st Stats
		f := r.frames(s)
		err := r.respond(ctx, p, f, &st)
		st.BytesIn, st.BytesOut = f.in, f.out
		r.report(p, "responder", st, err)
		if err != nil {
			_ = s.Reset()
			return
		}
		_ = s.Close()
	}) {
		r.release(me)
		_ = s.Reset()
	}
}

func (r *Runtime) respond(ctx context.Context, p peer.ID, f *frameIO, st *Stats) error {
	ng, err := r.negentropy()
	if err != nil {
		return err
	}
	for {
		k, body, err := f.expect(kindNeg, kindDone)
		if err != nil {
			return err
		}
		if k == kindDone {
			break
		}
		if st.Rounds++; st.Rounds > r.cfg.Rounds {
			return fmt.Errorf("%w: %d rounds", ErrBudget, r.cfg.Rounds)
		}
		out, err := ng.Reconcile(body)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if err := f.write(kindNeg, out); err != nil {
			return err
		}
	}
	// Phase 2: the wants.
	var wants []ID
	for {
		k, body, err := f.expect(kindWant, kindDone)
		if err != nil {
			return err
		}
		if k == kindDone {
			break
		}
		ids, err := idsOf(body)
		if err != nil {
			return err
		}
		if len(wants)+len(ids) > r.cfg.MaxEnvelopes {
			return fmt.Errorf("%w: more than %d envelopes wanted", ErrBudget, r.cfg.MaxEnvelopes)
		}
		wants = append(wants, ids...)
	}
	if err := r.send(f, wants, st); err != nil {
		return err
	}
	if err := f.write(kindDone, nil); err != nil {
		return err
	}
	// Phase 3: what we lack.
	for {
		k, body, err := f.expect(kindEnv, kindDone)
		if err != nil {
			return err
		}
		if k == kindDone {
			return f.write(kindDone, nil)
		}
		if st.Received++; st.Received > r.cfg.MaxEnvelopes {
			return fmt.Errorf("%w: more than %d envelopes pushed", ErrBudget, r.cfg.MaxEnvelopes)
		}
		if r.log.Has(IDOf(body)) {
			continue
		}
		if r.deps.Apply(ctx, p, body) == nil {
			st.Accepted++
		}
	}
}

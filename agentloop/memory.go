package agentloop

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/web4p2p/web4p2p/internal/enum"
	"github.com/web4p2p/web4p2p/internal/store"
)

// NodeKind classifies causal-memory nodes. The zero value is invalid.
type NodeKind uint8

// Node kinds.
const (
	NodeMessage  NodeKind = iota + 1 // a processed inbox item
	NodeDecision                     // a decision with its DMP trace
	NodeAction                       // an action handed to the Actor
)

var nodeKindNames = []string{"", "message", "decision", "action"}

// String returns the name.
func (k NodeKind) String() string { return enum.String(nodeKindNames, k) }

// MarshalText implements encoding.TextMarshaler.
func (k NodeKind) MarshalText() ([]byte, error) {
	if k < NodeMessage || k > NodeAction {
		return nil, fmt.Errorf("invalid node kind %d", k)
	}
	return []byte(k.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *NodeKind) UnmarshalText(b []byte) error {
	for i := NodeMessage; i <= NodeAction; i++ {
		if i.String() == string(b) {
			*k = i
			return nil
		}
	}
	return fmt.Errorf("invalid node kind %q", b)
}

// Trace is a DMP trace: what was decided, what else was possible, why, what
// followed, and in which context (SPEC §10).
type Trace struct {
	Decision     string   `json:"decision"`
	Alternatives []string `json:"alternatives"`
	Reasons      []string `json:"reasons"`
	Consequences []string `json:"consequences"`
	Context      string   `json:"context"`
}

// Node is one vertex of the causal DAG, with edges to its causes.
type Node struct {
	ID      string    `json:"id"`
	Kind    NodeKind  `json:"kind"`
	Type    string    `json:"type"` // item or action kind, e.g. "human_intent"
	Summary string    `json:"summary"`
	Causes  []string  `json:"causes"`
	Trace   *Trace    `json:"trace,omitempty"`
	Time    time.Time `json:"time"`
	// Seq is assigned by Memory: the order nodes were recorded in.
	Seq uint64 `json:"seq"`
}

// Memory errors.
var (
	ErrNotFound = errors.New("agentloop: no such causal node")
	ErrNode     = errors.New("agentloop: invalid causal node")
)

const nodesBucket = "agentloop_causal_nodes"

// Memory is the causal memory: a DAG of nodes persisted in internal/store.
// Safe for concurrent use.
type Memory struct {
	db *store.DB
}

// NewMemory returns the causal memory stored in db.
func NewMemory(db *store.DB) (*Memory, error) {
	if db == nil {
		return nil, errors.New("agentloop: NewMemory: nil store")
	}
	err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists([]byte(nodesBucket))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("agentloop: causal memory: %w", err)
	}
	return &Memory{db: db}, nil
}

// Record stores nodes in one transaction. A node whose id is already
// recorded is left as it was (recording is idempotent: a message seen
// twice is one node). Causes beyond MaxCauses and free text beyond
// MaxTextLen are refused with ErrNode.
func (m *Memory) Record(nodes ...Node) error {
	for i := range nodes {
		if err := nodes[i].check(); err != nil {
			return err
		}
	}
	return m.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(nodesBucket))
		for _, n := range nodes {
			if b.Get([]byte(n.ID)) != nil {
				continue
			}
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			n.Seq = seq
			n.Time = n.Time.UTC()
			if n.Causes == nil {
				n.Causes = []string{}
			}
			v, err := json.Marshal(n)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(n.ID), v); err != nil {
				return err
			}
		}
		return nil
	})
}

func (n *Node) check() error {
	switch {
	case n.ID == "" || len(n.ID) > 256:
		return fmt.Errorf("%w: id: must be 1..256 bytes", ErrNode)
	case n.Kind < NodeMessage || n.Kind > NodeAction:
		return fmt.Errorf("%w: %s: kind invalid", ErrNode, n.ID)
	case len(n.Causes) > MaxCauses:
		return fmt.Errorf("%w: %s: %d causes, limit %d", ErrNode, n.ID, len(n.Causes), MaxCauses)
	case len(n.Summary) > MaxTextLen:
		return fmt.Errorf("%w: %s: summary longer than %d", ErrNode, n.ID, MaxTextLen)
	}
	return nil
}

// Get returns the node id, or ErrNotFound.
func (m *Memory) Get(id string) (Node, error) {
	var n Node
	err := m.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = getNode(tx.Bucket([]byte(nodesBucket)), id)
		return err
	})
	return n, err
}

func getNode(b *bolt.Bucket, id string) (Node, error) {
	v := b.Get([]byte(id))
	if v == nil {
		return Node{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	var n Node
	if err := json.Unmarshal(v, &n); err != nil {
		return Node{}, fmt.Errorf("agentloop: causal node %q: corrupt record: %w", id, err)
	}
	return n, nil
}

// Why returns the causal chain of id: its recorded ancestors up to depth
// levels back (0 = DefaultWhyDepth, capped at MaxWhyDepth), in causal
// order — every node after all of its causes that are in the answer — and
// id itself last. Causes never recorded (e.g. messages that were not
// processed) are skipped. Cycles, which a corrupt or forged store could
// contain, are cut where they close, so Why always terminates; at most
// MaxWhyNodes nodes are returned.
func (m *Memory) Why(id string, depth int) ([]Node, error) {
	if depth <= 0 {
		depth = DefaultWhyDepth
	}
	depth = min(depth, MaxWhyDepth)
	var out []Node
	err := m.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(nodesBucket))
		root, err := getNode(b, id)
		if err != nil {
			return err
		}
		// Breadth-first collection, bounded by depth and size; level[id]
		// is the shortest distance from the root.
		nodes := map[string]Node{id: root}
		frontier := []Node{root}
		for d := 0; d < depth && len(frontier) > 0 && len(nodes) < MaxWhyNodes; d++ {
			var next []Node
			for _, n := range frontier {
				for _, c := range n.Causes {
					if _, ok := nodes[c]; ok || len(nodes) >= MaxWhyNodes {
						continue
					}
					cn, err := getNode(b, c)
					if errors.Is(err, ErrNotFound) {
						continue
					}
					if err != nil {
						return err
					}
					nodes[c] = cn
					next = append(next, cn)
				}
			}
			frontier = next
		}
		// Post-order DFS from the root over the collected nodes: causes
		// are emitted before their effects. "visiting" cuts cycles.
		const (
			visiting = 1
			done     = 2
		)
		state := map[string]int{}
		var visit func(n Node)
		visit = func(n Node) {
			state[n.ID] = visiting
			causes := make([]Node, 0, len(n.Causes))
			for _, c := range n.Causes {
				if cn, ok := nodes[c]; ok && state[c] == 0 {
					causes = append(causes, cn)
				}
			}
			sort.Slice(causes, func(i, j int) bool { return causes[i].Seq < causes[j].Seq })
			for _, c := range causes {
				if state[c.ID] == 0 {
					visit(c)
				}
			}
			state[n.ID] = done
			out = append(out, n)
		}
		visit(root)
		return nil
	})
	return out, err
}

// Len returns the number of recorded nodes.
func (m *Memory) Len() int {
	n := 0
	_ = m.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket([]byte(nodesBucket)).Stats().KeyN
		return nil
	})
	return n
}

package node

// humanRuntime holds the HCP runtime and the AgentLoop of the node.
type humanRuntime struct{}

// startHuman starts the HCP runtime and the AgentLoop. It runs after the
// mesh and before the control API, so it may append API routes.
func (n *Node) startHuman() error { return nil }

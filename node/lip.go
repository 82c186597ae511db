package node

// lipRuntime holds the node's LIP runtime.
type lipRuntime struct{}

// startLIP starts the LIP runtime. It runs after the mesh and before the
// control API, so it may append API routes.
func (n *Node) startLIP() error { return nil }

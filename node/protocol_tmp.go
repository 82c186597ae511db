package node

import "context"

func (n *Node) runProtocol(ctx context.Context, ps *peerSession) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ps.t.Done():
			return
		case <-ps.envIn:
		}
	}
}

package agentloop

import (
	"fmt"
	"testing"
)

// FuzzWhy builds an arbitrary cause graph (cycles, self-loops, dangling
// causes) from the input and checks that Why terminates and returns each
// node once, the root last, and every returned node after those of its
// causes that are returned — unless the edge closes a cycle.
func FuzzWhy(f *testing.F) {
	f.Add([]byte{0, 1, 1, 2, 2, 0}, uint8(0))
	f.Add([]byte{3, 3}, uint8(3))
	f.Add([]byte{0, 1, 0, 2, 1, 3, 2, 3}, uint8(3))
	// One store for all iterations (a bbolt file per input would make
	// fsync the whole cost); each input gets its own id prefix.
	mem, db := openMemory(f, f.TempDir())
	defer db.Close()
	iter := 0
	f.Fuzz(func(t *testing.T, edges []byte, root uint8) {
		iter++
		pre := fmt.Sprint("i", iter, "-")
		if len(edges) > 256 {
			return
		}
		const n = 16
		causes := map[string][]string{}
		for i := 0; i+1 < len(edges); i += 2 {
			from, to := fmt.Sprint(pre, "n", edges[i]%n), fmt.Sprint(pre, "n", edges[i+1]%(n+2)) // n16, n17 never exist
			if len(causes[from]) < MaxCauses {
				causes[from] = append(causes[from], to)
			}
		}
		var nodes []Node
		for i := 0; i < n; i++ {
			id := fmt.Sprint(pre, "n", i)
			nodes = append(nodes, Node{ID: id, Kind: NodeMessage, Causes: causes[id]})
		}
		if err := mem.Record(nodes...); err != nil {
			t.Fatal(err)
		}
		rid := fmt.Sprint(pre, "n", root%n)
		chain, err := mem.Why(rid, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(chain) == 0 || chain[len(chain)-1].ID != rid {
			t.Fatalf("root not last: %v", ids(chain))
		}
		pos := map[string]int{}
		for i, c := range chain {
			if _, dup := pos[c.ID]; dup {
				t.Fatalf("%s twice in %v", c.ID, ids(chain))
			}
			pos[c.ID] = i
		}
		// Reachability from the root must be complete (depth 32 > n).
		seen := map[string]bool{rid: true}
		stack := []string{rid}
		for len(stack) > 0 {
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, c := range causes[x] {
				if !seen[c] && c != pre+"n16" && c != pre+"n17" {
					seen[c] = true
					stack = append(stack, c)
				}
			}
		}
		if len(seen) != len(chain) {
			t.Fatalf("why returned %d nodes, %d reachable", len(chain), len(seen))
		}
	})
}

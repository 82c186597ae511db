package negentropy

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// testdata/vectors.txt holds transcripts recorded between two reference
// sessions (js/Negentropy.js client and server under node), so conformance
// is checked where node is absent. Regenerate with
//
//	go test ./internal/negentropy -run TestVectors -update-vectors
//
// Format, one record a line ('#' starts a comment):
//
//	case <name>
//	limits <client frame size limit> <server frame size limit>
//	c|s|b <timestamp> <id hex>   an item of the client, the server or both
//	items-of <case>              the items of an earlier case
//	c2s <hex>                    a client message (the first is Initiate's)
//	s2c <hex>                    the server's answer
//	have|need <id hex>           what the client learnt from the answer before
//	done                         the client's ReconcileClient returned nil
//	probe <hex> <hex>            a message to a fresh server and its answer
//	end
var updateVectors = flag.Bool("update-vectors", false, "regenerate testdata/vectors.txt from the reference implementation (needs node)")

var vectorsFile = filepath.Join("testdata", "vectors.txt")

type vectorStep struct {
	c2s, s2c   []byte
	have, need [][IDSize]byte
}

type vector struct {
	name                     string
	clientLimit, serverLimit int
	client, server           set
	itemsOf                  string       // the items are an earlier case's
	steps                    []vectorStep // until the client is done
	probes                   [][2][]byte  // (message, answer) to a fresh server
}

// vectorSets are small shapes that still reach every branch: empty and
// one-sided sets, id lists, two levels of fingerprint splits, long id
// prefixes, a server cutting id lists and fingerprint splits short at the
// 4096-byte limit, a limited client facing an unlimited server, and the
// version fallback.
func vectorSets() []vector {
	r := rand.New(rand.NewPCG(2023, 61))
	var out []vector
	add := func(name string, cl, sl int, client, server set) {
		out = append(out, vector{name: name, clientLimit: cl, serverLimit: sl, client: client, server: server})
	}
	add("empty", 0, 0, nil, nil)
	a, _ := genSets(r, 60, 0, 0, 1677970534, 60)
	add("equal", 0, 0, a, a)
	a, b := genSets(r, 40, 0.5, 0.5, 1677970534, 40)
	add("disjoint", 0, 0, a, b)
	a, _ = genSets(r, 50, 0, 0, 1677970534, 50)
	add("client-empty", 0, 0, nil, a)
	add("server-empty", 0, 0, a, nil)
	splitA, splitB := genSets(r, 550, 0.03, 0.03, 1677970534, 550)
	add("random-two-splits", 0, 0, splitA, splitB)
	a, b = genSets(r, 150, 0.05, 0.05, 1677970534, 8)
	add("duplicate-timestamps", 0, 0, a, b)
	var p1, p2 set
	for i := 0; i < 150; i++ {
		it := Item{Timestamp: 5}
		it.ID[31], it.ID[0] = byte(i), byte(i%2)
		if i%11 != 0 {
			p1 = append(p1, it)
		}
		if i%13 != 0 {
			p2 = append(p2, it)
		}
	}
	add("shared-prefixes", 0, 0, p1, p2)
	a, b = genSets(r, 250, 0.02, 0.9, 1677970534, 250)
	add("limit-4096-id-lists", 4096, 4096, a, b)
	add("limit-4096-splits", 4096, 4096, splitA, splitB)
	out[len(out)-1].itemsOf = "random-two-splits"
	a, b = genSets(r, 800, 0.15, 0.15, 1677970534, 800)
	add("limits-4096-0", 4096, 0, a, b) // only the client is limited
	v := vector{name: "protocol-version", server: set{{Timestamp: 12345, ID: [IDSize]byte(bytes.Repeat([]byte{0xee}, IDSize))}}}
	for _, in := range []string{"6100000200", "62aabbccddeeff", "60", "6f00"} {
		b, _ := hex.DecodeString(in)
		v.probes = append(v.probes, [2][]byte{b, nil})
	}
	return append(out, v)
}

// record runs the reference against itself and fills in the transcript.
func (v *vector) record(t *testing.T, node string) {
	if len(v.probes) > 0 {
		js := startJS(t, node, v.server, v.serverLimit)
		for i := range v.probes {
			v.probes[i][1], _, _ = js.reconcile(v.probes[i][0])
		}
		return
	}
	jc := startJS(t, node, v.client, v.clientLimit)
	js := startJS(t, node, v.server, v.serverLimit)
	msg := jc.initiate()
	for msg != nil {
		st := vectorStep{c2s: msg}
		st.s2c, _, _ = js.reconcile(msg)
		msg, st.have, st.need = jc.reconcile(st.s2c)
		v.steps = append(v.steps, st)
		if len(v.steps) > maxRounds {
			t.Fatal("reference does not converge")
		}
	}
}

func (v *vector) write(w *bufio.Writer) {
	fmt.Fprintf(w, "case %s\nlimits %d %d\n", v.name, v.clientLimit, v.serverLimit)
	v.writeItems(w)
	for _, st := range v.steps {
		fmt.Fprintf(w, "c2s %x\ns2c %x\n", st.c2s, st.s2c)
		for _, id := range st.have {
			fmt.Fprintf(w, "have %x\n", id)
		}
		for _, id := range st.need {
			fmt.Fprintf(w, "need %x\n", id)
		}
	}
	if len(v.probes) == 0 {
		fmt.Fprintln(w, "done")
	}
	for _, p := range v.probes {
		fmt.Fprintf(w, "probe %x %x\n", p[0], p[1])
	}
	fmt.Fprintln(w, "end")
}

func (v *vector) writeItems(w *bufio.Writer) {
	if v.itemsOf != "" {
		fmt.Fprintf(w, "items-of %s\n", v.itemsOf)
		return
	}
	inServer := make(map[Item]bool, len(v.server))
	for _, it := range v.server {
		inServer[it] = true
	}
	inClient := make(map[Item]bool, len(v.client))
	for _, it := range v.client {
		inClient[it] = true
		side := "c"
		if inServer[it] {
			side = "b"
		}
		fmt.Fprintf(w, "%s %d %x\n", side, it.Timestamp, it.ID)
	}
	for _, it := range v.server {
		if !inClient[it] {
			fmt.Fprintf(w, "s %d %x\n", it.Timestamp, it.ID)
		}
	}
}

func readVectors(t testing.TB) []vector {
	t.Helper()
	f, err := os.Open(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []vector
	var v *vector
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		bad := func() { t.Fatalf("%s:%d: bad line %.60q", vectorsFile, n, line) }
		hexArg := func(i int) []byte {
			if len(fields) <= i {
				bad()
			}
			b, err := hex.DecodeString(fields[i])
			if err != nil {
				bad()
			}
			return b
		}
		idArg := func(i int) [IDSize]byte {
			b := hexArg(i)
			if len(b) != IDSize {
				bad()
			}
			return [IDSize]byte(b)
		}
		if fields[0] == "case" {
			out = append(out, vector{name: fields[1]})
			v = &out[len(out)-1]
			continue
		}
		if v == nil {
			bad()
		}
		last := func() *vectorStep {
			if len(v.steps) == 0 {
				bad()
			}
			return &v.steps[len(v.steps)-1]
		}
		switch fields[0] {
		case "limits":
			if len(fields) != 3 {
				bad()
			}
			v.clientLimit, _ = strconv.Atoi(fields[1])
			v.serverLimit, _ = strconv.Atoi(fields[2])
		case "c", "s", "b":
			ts, err := strconv.ParseUint(fields[1], 10, 64)
			if err != nil {
				bad()
			}
			it := Item{Timestamp: ts, ID: idArg(2)}
			if fields[0] != "s" {
				v.client = append(v.client, it)
			}
			if fields[0] != "c" {
				v.server = append(v.server, it)
			}
		case "items-of":
			if len(fields) != 2 {
				bad()
			}
			for _, u := range out[:len(out)-1] {
				if u.name == fields[1] {
					v.client, v.server = u.client, u.server
				}
			}
			if v.client == nil && v.server == nil {
				bad()
			}
		case "c2s":
			v.steps = append(v.steps, vectorStep{c2s: hexArg(1)})
		case "s2c":
			last().s2c = hexArg(1)
		case "have":
			last().have = append(last().have, idArg(1))
		case "need":
			last().need = append(last().need, idArg(1))
		case "probe":
			v.probes = append(v.probes, [2][]byte{hexArg(1), hexArg(2)})
		case "done", "end":
		default:
			bad()
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func writeVectors(t *testing.T, vs []vector) {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	fmt.Fprintln(w, "# Transcripts between two sessions of the reference js/Negentropy.js")
	fmt.Fprintln(w, "# (github.com/hoytech/negentropy, MIT, © 2023 Doug Hoyte).")
	fmt.Fprintln(w, "# Generated by: go test ./internal/negentropy -run TestVectors -update-vectors")
	fmt.Fprintln(w, "# Do not edit; vectors_test.go describes the format.")
	for i := range vs {
		fmt.Fprintln(w)
		vs[i].write(w)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vectorsFile, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestVectors replays the reference's transcripts against a Go client and
// a Go server separately: each must produce the recorded messages byte for
// byte, and the client the recorded have/need in the recorded order.
func TestVectors(t *testing.T) {
	if *updateVectors {
		node := needNode(t)
		vs := vectorSets()
		for i := range vs {
			vs[i].record(t, node)
		}
		writeVectors(t, vs)
	}
	vs := readVectors(t)
	if len(vs) < 10 {
		t.Fatalf("%s holds %d vectors", vectorsFile, len(vs))
	}
	for _, v := range vs {
		t.Run(v.name, func(t *testing.T) {
			for _, p := range v.probes {
				s := mustSession(t, v.server.vector(t), v.serverLimit)
				got, err := s.Reconcile(p[0])
				if err != nil || !bytes.Equal(got, p[1]) {
					t.Errorf("probe %x: Go server answered %x, %v; reference %x", p[0], got, err, p[1])
				}
			}
			if len(v.probes) > 0 {
				return
			}
			if len(v.steps) == 0 {
				t.Fatal("no transcript")
			}
			// A vector with limits must have had to cut a message short.
			if (v.clientLimit != 0 || v.serverLimit != 0) && !slices.ContainsFunc(v.steps, func(st vectorStep) bool {
				return v.clientLimit != 0 && len(st.c2s) > v.clientLimit-1000 || v.serverLimit != 0 && len(st.s2c) > v.serverLimit-1000
			}) {
				t.Errorf("no message comes near the limits %d/%d: the vector does not exercise them", v.clientLimit, v.serverLimit)
			}

			c := mustSession(t, v.client.vector(t), v.clientLimit)
			msg, err := c.Initiate()
			if err != nil {
				t.Fatal(err)
			}
			var tr transcript
			for i, st := range v.steps {
				if !bytes.Equal(msg, st.c2s) {
					t.Fatalf("round %d: Go client sent %x, reference %x", i, msg, st.c2s)
				}
				var have, need [][IDSize]byte
				if msg, have, need, err = c.ReconcileClient(st.s2c); err != nil {
					t.Fatalf("round %d: Go client: %v", i, err)
				}
				if !sameIDs(have, st.have) || !sameIDs(need, st.need) {
					t.Fatalf("round %d: Go client have/need %d/%d ids, reference %d/%d (or another order)", i, len(have), len(need), len(st.have), len(st.need))
				}
				tr.have, tr.need = append(tr.have, have...), append(tr.need, need...)
			}
			if msg != nil {
				t.Fatalf("Go client sent %x where the reference was done", msg)
			}
			checkDiff(t, tr, v.client, v.server)

			s := mustSession(t, v.server.vector(t), v.serverLimit)
			for i, st := range v.steps {
				got, err := s.Reconcile(st.c2s)
				if err != nil || !bytes.Equal(got, st.s2c) {
					t.Fatalf("round %d: Go server answered %x, %v; reference %x", i, got, err, st.s2c)
				}
			}
		})
	}
}

package a2a

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/web4p2p/web4p2p/internal/events"
	"github.com/web4p2p/web4p2p/internal/lifecycle"
	"github.com/web4p2p/web4p2p/trust"
)

// Protocol is the libp2p stream protocol of the A2A binding: the same
// JSON-RPC as POST /a2a, one request per stream, each message a frame
// (unsigned varint length, then that many bytes of JSON). The caller
// writes the request; the server answers with one response, or with one
// response per event for a streaming method, and closes the stream. The
// agent card's libp2p interfaces (node/card.BindingLibp2p, the node's
// /p2p multiaddrs) are where it is reached.
const Protocol protocol.ID = "/web4/a2a/1.0"

// Binding serves the gateway over libp2p streams and forwards tasks to
// other nodes' gateways (it is the gateway's Forwarder).
type Binding struct {
	h     host.Host
	gw    *Gateway
	trust func(peer.ID) trust.State
	em    *events.Emitter
	group *lifecycle.Group
}

// NewBinding builds the binding over gw; trust is this node's trust in a
// peer (only probing and trusted peers may use it, as for CIP INTENT,
// SPEC §4.3). It also becomes gw's Forwarder.
func NewBinding(h host.Host, gw *Gateway, trust func(peer.ID) trust.State, em *events.Emitter, group *lifecycle.Group) *Binding {
	b := &Binding{h: h, gw: gw, trust: trust, em: em, group: group}
	gw.SetForwarder(b)
	return b
}

// Open registers the stream handler.
func (b *Binding) Open() { b.h.SetStreamHandler(Protocol, b.serve) }

// Close removes it; streams being served end with the group. Idempotent.
func (b *Binding) Close() error {
	b.h.RemoveStreamHandler(Protocol)
	return nil
}

func admitted(st trust.State) bool { return st == trust.Probing || st == trust.Trusted }

// serve answers one request on s.
func (b *Binding) serve(s network.Stream) {
	p := s.Conn().RemotePeer()
	if st := b.trust(p); !admitted(st) {
		b.em.Emit(EventInbound, p.String(), map[string]any{"trust": st.String()})
		_ = s.SetDeadline(time.Now().Add(5 * time.Second))
		resp := Reply(json.RawMessage("null"), nil, errf(CodeRefused, "this node's trust in %s is %s; A2A over libp2p needs probing or trusted", p, st))
		_ = writeFrame(s, resp)
		_ = s.Close()
		return
	}
	if !b.group.Go(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, StreamTimeout)
		defer cancel()
		stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
		defer stop()
		_ = s.SetDeadline(time.Now().Add(StreamTimeout))
		if err := b.answer(ctx, s); err != nil {
			_ = s.Reset()
			return
		}
		_ = s.Close()
	}) {
		_ = s.Reset()
	}
}

func (b *Binding) answer(ctx context.Context, s network.Stream) error {
	raw, err := readFrame(bufio.NewReader(s))
	if err != nil {
		return err
	}
	req, id, perr := ParseRequest(raw)
	if perr != nil {
		b.gw.Refused(perr)
		return writeFrame(s, Reply(id, nil, perr))
	}
	req.Owner = s.Conn().RemotePeer().String()
	if !req.Method.Streaming() {
		res, herr := b.gw.Handle(ctx, req)
		return writeFrame(s, Reply(id, res, herr))
	}
	// The caller closing or resetting the stream ends the stream here
	// and cancels the task it asked for.
	var taskID string
	var werr error
	serr := b.gw.Stream(ctx, req, func(result any) error {
		if taskID == "" {
			taskID = taskOf(result)
		}
		werr = writeFrame(s, Reply(id, result, nil))
		return werr
	})
	if serr != nil {
		return writeFrame(s, Reply(id, nil, serr))
	}
	if (werr != nil || ctx.Err() != nil) && taskID != "" && req.Method == SendStreamingMessage {
		_, _ = b.gw.cancel(taskID) // nobody follows it any more
	}
	if werr != nil {
		return werr
	}
	return ctx.Err()
}

// taskOf reads the task id of a stream's first result.
func taskOf(result any) string {
	m, _ := result.(map[string]any)
	if t, ok := m["task"].(map[string]any); ok {
		m = t
	}
	id, _ := m["id"].(string)
	return id
}

// Forward runs sp as a task on p's gateway (SendStreamingMessage over the
// binding, without the "forward" metadata) and reports each of its
// events. A refusal by p is an *Error with CodeRefused.
func (b *Binding) Forward(ctx context.Context, p peer.ID, sp *SendParams, report func(Event)) error {
	ctx, cancel := context.WithTimeout(ctx, StreamTimeout)
	defer cancel()
	s, err := b.h.NewStream(ctx, p, Protocol)
	if err != nil {
		return err
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	_ = s.SetDeadline(time.Now().Add(StreamTimeout))
	msg := sp.Message
	msg.TaskID = ""
	msg.Metadata = maps.Clone(msg.Metadata)
	delete(msg.Metadata, "forward")
	req := map[string]any{"jsonrpc": "2.0", "id": 1, "method": "SendStreamingMessage",
		"params": map[string]any{"message": msg.wire(V10)}}
	if err := writeFrame(s, req); err != nil {
		return err
	}
	if err := s.CloseWrite(); err != nil {
		return err
	}
	r := bufio.NewReader(s)
	for {
		raw, err := readFrame(r)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		e, err := parseResponse(raw)
		if err != nil {
			return err
		}
		report(e)
		if e.final() {
			return nil
		}
	}
}

// writeFrame writes v as one frame.
func writeFrame(w io.Writer, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(body) > MaxRequest {
		return fmt.Errorf("a2a frame: %d bytes, limit %d", len(body), MaxRequest)
	}
	buf := binary.AppendUvarint(make([]byte, 0, len(body)+binary.MaxVarintLen32), uint64(len(body)))
	_, err = w.Write(append(buf, body...))
	return err
}

// readFrame reads one frame of at most MaxRequest bytes.
func readFrame(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n == 0 || n > MaxRequest {
		return nil, fmt.Errorf("a2a frame: length %d, must be 1..%d", n, MaxRequest)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// The v1.0 result shapes a forwarding gateway reads back.
type (
	wirePart struct {
		Text      *string         `json:"text"`
		Data      json.RawMessage `json:"data"`
		MediaType string          `json:"mediaType"`
	}
	wireMessage struct {
		Parts []wirePart `json:"parts"`
	}
	wireStatus struct {
		State   string       `json:"state"`
		Message *wireMessage `json:"message"`
	}
	wireTask struct {
		ID     string     `json:"id"`
		Status wireStatus `json:"status"`
	}
	wireArtifact struct {
		ArtifactID  string     `json:"artifactId"`
		Name        string     `json:"name"`
		Description string     `json:"description"`
		Parts       []wirePart `json:"parts"`
	}
	wireResult struct {
		Task           *wireTask                        `json:"task"`
		StatusUpdate   *struct{ Status wireStatus }     `json:"statusUpdate"`
		ArtifactUpdate *struct{ Artifact wireArtifact } `json:"artifactUpdate"`
	}
)

// parseResponse reads one JSON-RPC response of a v1.0 stream into an
// Event; a JSON-RPC error is returned as *Error.
func parseResponse(raw []byte) (Event, error) {
	var resp struct {
		JSONRPC string          `json:"jsonrpc"`
		Result  json.RawMessage `json:"result"`
		Error   *Error          `json:"error"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil || resp.JSONRPC != "2.0" {
		return Event{}, fmt.Errorf("a2a response: not a JSON-RPC 2.0 response")
	}
	if resp.Error != nil {
		return Event{}, resp.Error
	}
	var res wireResult
	if err := json.Unmarshal(resp.Result, &res); err != nil {
		return Event{}, fmt.Errorf("a2a response: result: %w", err)
	}
	status := func(ws wireStatus) (*Task, error) {
		st := stateNamed(ws.State)
		if st == 0 {
			return nil, fmt.Errorf("a2a response: status.state: unknown state %q", ws.State)
		}
		t := &Task{State: st}
		if ws.Message != nil {
			t.Status = &Message{FromAgent: true, Parts: partsOf(ws.Message.Parts)}
		}
		return t, nil
	}
	switch {
	case res.Task != nil:
		t, err := status(res.Task.Status)
		if err != nil {
			return Event{}, err
		}
		t.ID = res.Task.ID
		return Event{Task: t}, nil
	case res.StatusUpdate != nil:
		t, err := status(res.StatusUpdate.Status)
		return Event{Status: t}, err
	case res.ArtifactUpdate != nil:
		a := res.ArtifactUpdate.Artifact
		return Event{Artifact: &Artifact{ArtifactID: a.ArtifactID, Name: a.Name, Description: a.Description, Parts: partsOf(a.Parts)}}, nil
	}
	return Event{}, fmt.Errorf("a2a response: result is none of task, statusUpdate, artifactUpdate")
}

func partsOf(ws []wirePart) []Part {
	out := make([]Part, 0, len(ws))
	for _, w := range ws {
		p := Part{Data: w.Data, MediaType: w.MediaType}
		if w.Text != nil {
			p.Text = *w.Text
		}
		out = append(out, p)
	}
	return out
}

// stateNamed reads a state in either dialect (0: unknown).
func stateNamed(name string) State {
	for i := range stateV1 {
		if i > 0 && (stateV1[i] == name || stateV03[i] == name) {
			return State(i)
		}
	}
	return 0
}

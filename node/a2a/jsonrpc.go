package a2a

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/web4p2p/web4p2p/protocols/cip"
)

// JSON-RPC and A2A error codes (A2A §5.4, JSON-RPC 2.0 §5.1).
const (
	CodeParseError          = -32700
	CodeInvalidRequest      = -32600
	CodeMethodNotFound      = -32601
	CodeInvalidParams       = -32602
	CodeInternal            = -32603
	CodeTaskNotFound        = -32001
	CodeTaskNotCancelable   = -32002
	CodePushNotSupported    = -32003
	CodeUnsupportedOp       = -32004
	CodeContentType         = -32005
	CodeExtendedCardMissing = -32007
	CodeVersionNotSupported = -32009
	// CodeRefused is this node's own: the libp2p binding refused the
	// calling peer (its trust state does not admit A2A traffic).
	CodeRefused = -32040
)

// Error is a JSON-RPC error object. Message names the field and why.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("a2a error %d: %s", e.Code, e.Message) }

func errf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func invalid(path, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidParams, Message: path + ": " + fmt.Sprintf(format, args...)}
}

// Method is a gateway operation; each has a v1.0 and a v0.3 name.
type Method uint8

// Methods.
const (
	SendMessage Method = iota + 1
	SendStreamingMessage
	GetTask
	CancelTask
	SubscribeToTask
)

var methodNames = map[string]struct {
	m Method
	d Dialect
}{
	"SendMessage": {SendMessage, V10}, "SendStreamingMessage": {SendStreamingMessage, V10},
	"GetTask": {GetTask, V10}, "CancelTask": {CancelTask, V10}, "SubscribeToTask": {SubscribeToTask, V10},
	"message/send": {SendMessage, V03}, "message/stream": {SendStreamingMessage, V03},
	"tasks/get": {GetTask, V03}, "tasks/cancel": {CancelTask, V03}, "tasks/resubscribe": {SubscribeToTask, V03},
}

// known but not offered: answered with the A2A error that says so.
var unsupported = map[string]*Error{
	"ListTasks":                          errf(CodeUnsupportedOp, "ListTasks is not supported by this agent"),
	"GetExtendedAgentCard":               errf(CodeExtendedCardMissing, "this agent has no extended agent card"),
	"agent/getAuthenticatedExtendedCard": errf(CodeExtendedCardMissing, "this agent has no extended agent card"),
}

// Streaming reports whether m answers with a stream of responses.
func (m Method) Streaming() bool { return m == SendStreamingMessage || m == SubscribeToTask }

// Request is a checked JSON-RPC request.
type Request struct {
	// ID is the request id as sent (a string or a number).
	ID      json.RawMessage
	Method  Method
	Dialect Dialect
	// Send is the SendMessage params; TaskID and HistoryLength the task
	// methods' (HistoryLength -1: not given).
	Send          *SendParams
	TaskID        string
	HistoryLength int
	// Owner is who asks, set by the transport (not read from the
	// request): "api" for the control API, the PeerID for the libp2p
	// binding. A task is seen, continued and canceled only by its owner.
	Owner string
}

// SendParams is a checked SendMessage request.
type SendParams struct {
	Message Message
	// Blocking: wait for the task to finish or be interrupted (v1.0
	// returnImmediately false, v0.3 blocking true; the default).
	Blocking      bool
	HistoryLength int
	// Intent is what the message asks of the mesh.
	Intent cip.IntentRequest
	// Peer is the mesh peer the message names ("peer" metadata), Forward
	// the node to forward the task to ("forward"); empty: none.
	Peer, Forward peer.ID
	// Text is the message's text (its text parts, and data parts as
	// JSON, one per line).
	Text string
}

// DefaultTopic is the topic of a message whose metadata names none.
const DefaultTopic = "general"

// ParseRequest checks one JSON-RPC request. On error the returned id is
// the request's id when it could be read (null otherwise), for the error
// response.
func ParseRequest(raw []byte) (*Request, json.RawMessage, *Error) {
	null := json.RawMessage("null")
	if len(raw) > MaxRequest {
		return nil, null, errf(CodeInvalidRequest, "request: %d bytes, limit %d", len(raw), MaxRequest)
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		return nil, null, errf(CodeInvalidRequest, "request: batch requests are not supported; send one object")
	}
	top, err := object(raw, "request", "jsonrpc", "method", "params", "id")
	if err != nil {
		if err.Code == CodeInvalidParams {
			err.Code = CodeParseError
			if json.Valid(raw) {
				err.Code = CodeInvalidRequest
			}
		}
		return nil, null, err
	}
	id, ok := top["id"]
	switch {
	case !ok:
		return nil, null, errf(CodeInvalidRequest, "id: required (A2A has no notifications)")
	case !validID(id):
		return nil, null, errf(CodeInvalidRequest, "id: must be a string or a number")
	}
	var version string
	if e := str(top, "jsonrpc", "jsonrpc", &version, true); e != nil || version != "2.0" {
		return nil, id, errf(CodeInvalidRequest, "jsonrpc: must be \"2.0\"")
	}
	var name string
	if e := str(top, "method", "method", &name, true); e != nil {
		e.Code = CodeInvalidRequest
		return nil, id, e
	}
	mt, ok := methodNames[name]
	if !ok {
		if e, known := unsupported[name]; known {
			return nil, id, &Error{Code: e.Code, Message: e.Message}
		}
		if strings.Contains(strings.ToLower(name), "pushnotification") {
			return nil, id, errf(CodePushNotSupported, "method %q: push notifications are not supported by this agent", name)
		}
		return nil, id, errf(CodeMethodNotFound, "method %q: not found (this agent serves SendMessage, SendStreamingMessage, GetTask, CancelTask, SubscribeToTask and their v0.3 names)", name)
	}
	req := &Request{ID: id, Method: mt.m, Dialect: mt.d, HistoryLength: -1}
	pr, ok := top["params"]
	if !ok {
		return nil, id, invalid("params", "required")
	}
	if mt.m == SendMessage || mt.m == SendStreamingMessage {
		req.Send, err = parseSend(pr, mt.d)
	} else {
		err = parseTaskParams(pr, mt.m, mt.d, req)
	}
	if err != nil {
		return nil, id, err
	}
	return req, id, nil
}

func validID(id json.RawMessage) bool {
	var v any
	if json.Unmarshal(id, &v) != nil {
		return false
	}
	switch x := v.(type) {
	case string:
		return len(x) <= MaxID
	case float64:
		return true
	}
	return false
}

func parseTaskParams(raw json.RawMessage, m Method, d Dialect, req *Request) *Error {
	allowed := []string{"id", "tenant", "metadata"}
	if m == GetTask {
		allowed = append(allowed, "historyLength")
	}
	p, err := object(raw, "params", allowed...)
	if err != nil {
		return err
	}
	if err := ident(p, "id", "params.id", &req.TaskID, true); err != nil {
		return err
	}
	if err := tenant(p); err != nil {
		return err
	}
	if _, err := metadata(p, "params.metadata"); err != nil {
		return err
	}
	if m == GetTask {
		if err := count(p, "historyLength", "params.historyLength", &req.HistoryLength); err != nil {
			return err
		}
	}
	return nil
}

func tenant(p map[string]json.RawMessage) *Error {
	var t string
	if err := str(p, "tenant", "params.tenant", &t, false); err != nil {
		return err
	}
	if t != "" {
		return invalid("params.tenant", "this agent has no tenants (got %q)", t)
	}
	return nil
}

func parseSend(raw json.RawMessage, d Dialect) (*SendParams, *Error) {
	p, err := object(raw, "params", "message", "configuration", "metadata", "tenant")
	if err != nil {
		return nil, err
	}
	if err := tenant(p); err != nil {
		return nil, err
	}
	sp := &SendParams{Blocking: true, HistoryLength: -1}
	if _, err := metadata(p, "params.metadata"); err != nil {
		return nil, err
	}
	if c, ok := p["configuration"]; ok && !isNull(c) {
		if err := parseConfig(c, d, sp); err != nil {
			return nil, err
		}
	}
	mr, ok := p["message"]
	if !ok {
		return nil, invalid("params.message", "required")
	}
	if err := parseMessage(mr, d, sp); err != nil {
		return nil, err
	}
	return sp, nil
}

func parseConfig(raw json.RawMessage, d Dialect, sp *SendParams) *Error {
	const path = "params.configuration"
	allowed := []string{"acceptedOutputModes", "historyLength", "returnImmediately", "taskPushNotificationConfig"}
	if d == V03 {
		allowed = []string{"acceptedOutputModes", "historyLength", "blocking", "pushNotificationConfig"}
	}
	c, err := object(raw, path, allowed...)
	if err != nil {
		return err
	}
	for _, k := range []string{"taskPushNotificationConfig", "pushNotificationConfig"} {
		if v, ok := c[k]; ok && !isNull(v) {
			return &Error{Code: CodePushNotSupported, Message: path + "." + k + ": push notifications are not supported by this agent"}
		}
	}
	if v, ok := c["acceptedOutputModes"]; ok && !isNull(v) {
		var modes []string
		if json.Unmarshal(v, &modes) != nil {
			return invalid(path+".acceptedOutputModes", "must be an array of strings")
		}
		if len(modes) > 0 && !acceptsText(modes) {
			return &Error{Code: CodeContentType, Message: path + ".acceptedOutputModes: this agent answers in text/plain and application/json only"}
		}
	}
	if err := count(c, "historyLength", path+".historyLength", &sp.HistoryLength); err != nil {
		return err
	}
	var flag bool
	if d == V03 {
		sp.Blocking = true // v0.3 said blocking false is the default, but its clients send it; absent → block
		if v, ok := c["blocking"]; ok {
			if json.Unmarshal(v, &flag) != nil {
				return invalid(path+".blocking", "must be a boolean")
			}
			sp.Blocking = flag
		}
		return nil
	}
	if v, ok := c["returnImmediately"]; ok {
		if json.Unmarshal(v, &flag) != nil {
			return invalid(path+".returnImmediately", "must be a boolean")
		}
		sp.Blocking = !flag
	}
	return nil
}

func acceptsText(modes []string) bool {
	for _, m := range modes {
		switch strings.ToLower(m) {
		case "text", "text/plain", "application/json", "*/*", "text/*":
			return true
		}
	}
	return false
}

func parseMessage(raw json.RawMessage, d Dialect, sp *SendParams) *Error {
	const path = "params.message"
	allowed := []string{"messageId", "contextId", "taskId", "role", "parts", "metadata", "extensions", "referenceTaskIds"}
	if d == V03 {
		allowed = append(allowed, "kind")
	}
	m, err := object(raw, path, allowed...)
	if err != nil {
		return err
	}
	msg := &sp.Message
	if d == V03 {
		var kind string
		if err := str(m, "kind", path+".kind", &kind, false); err != nil {
			return err
		}
		if kind != "" && kind != "message" {
			return invalid(path+".kind", "must be \"message\" (got %q)", kind)
		}
	}
	if err := ident(m, "messageId", path+".messageId", &msg.MessageID, true); err != nil {
		return err
	}
	if err := ident(m, "contextId", path+".contextId", &msg.ContextID, false); err != nil {
		return err
	}
	if err := ident(m, "taskId", path+".taskId", &msg.TaskID, false); err != nil {
		return err
	}
	var role string
	if err := str(m, "role", path+".role", &role, true); err != nil {
		return err
	}
	want := "ROLE_USER"
	if d == V03 {
		want = "user"
	}
	if role != want {
		return invalid(path+".role", "must be %q: a client sends user messages (got %q)", want, role)
	}
	if v, ok := m["extensions"]; ok && !isNull(v) {
		var ext []string
		if json.Unmarshal(v, &ext) != nil {
			return invalid(path+".extensions", "must be an array of strings")
		}
		if len(ext) > 0 {
			return invalid(path+".extensions", "this agent supports no extensions (got %q)", ext[0])
		}
	}
	if v, ok := m["referenceTaskIds"]; ok && !isNull(v) {
		if json.Unmarshal(v, &msg.ReferenceTaskIDs) != nil || len(msg.ReferenceTaskIDs) > MaxParts {
			return invalid(path+".referenceTaskIds", "must be an array of at most %d strings", MaxParts)
		}
	}
	md, err := metadata(m, path+".metadata")
	if err != nil {
		return err
	}
	msg.Metadata = md
	if err := intentOf(md, path+".metadata", sp); err != nil {
		return err
	}
	pr, ok := m["parts"]
	if !ok || isNull(pr) {
		return invalid(path+".parts", "required (at least one part)")
	}
	var list []json.RawMessage
	if json.Unmarshal(pr, &list) != nil {
		return invalid(path+".parts", "must be an array")
	}
	if len(list) == 0 || len(list) > MaxParts {
		return invalid(path+".parts", "must have 1..%d parts (got %d)", MaxParts, len(list))
	}
	var text []string
	for i, raw := range list {
		p, t, err := parsePart(raw, fmt.Sprintf("%s.parts[%d]", path, i), d)
		if err != nil {
			return err
		}
		msg.Parts = append(msg.Parts, p)
		text = append(text, t)
	}
	sp.Text = strings.Join(text, "\n")
	if len(sp.Text) > MaxText {
		return invalid(path+".parts", "text of %d bytes, limit %d", len(sp.Text), MaxText)
	}
	if strings.TrimSpace(sp.Text) == "" {
		return invalid(path+".parts", "no text: the message must say what it asks")
	}
	sp.Intent.Context = sp.Text
	return nil
}

func parsePart(raw json.RawMessage, path string, d Dialect) (Part, string, *Error) {
	allowed := []string{"text", "raw", "url", "data", "metadata", "filename", "mediaType"}
	if d == V03 {
		allowed = []string{"kind", "text", "file", "data", "metadata"}
	}
	m, err := object(raw, path, allowed...)
	if err != nil {
		return Part{}, "", err
	}
	var p Part
	if p.Metadata, err = metadata(m, path+".metadata"); err != nil {
		return Part{}, "", err
	}
	if err := str(m, "mediaType", path+".mediaType", &p.MediaType, false); err != nil {
		return Part{}, "", err
	}
	var present []string
	for _, k := range []string{"text", "raw", "url", "data", "file"} {
		if v, ok := m[k]; ok && !isNull(v) {
			present = append(present, k)
		}
	}
	if d == V03 {
		var kind string
		if err := str(m, "kind", path+".kind", &kind, true); err != nil {
			return Part{}, "", err
		}
		if len(present) != 1 || present[0] != kind {
			return Part{}, "", invalid(path, "kind %q needs exactly its own member %q", kind, kind)
		}
	} else if len(present) != 1 {
		return Part{}, "", invalid(path, "must have exactly one of text, raw, url, data (has %d)", len(present))
	}
	switch present[0] {
	case "text":
		if err := str(m, "text", path+".text", &p.Text, true); err != nil {
			return Part{}, "", err
		}
		return p, p.Text, nil
	case "data":
		var buf bytes.Buffer
		if json.Compact(&buf, m["data"]) != nil {
			return Part{}, "", invalid(path+".data", "not valid JSON")
		}
		p.Data = buf.Bytes()
		return p, buf.String(), nil
	default:
		return Part{}, "", &Error{Code: CodeContentType, Message: path + "." + present[0] + ": file content is not supported by this agent (send text or data)"}
	}
}

// intentOf reads what the message asks of the mesh from its metadata:
// topic (default DefaultTopic), goal (a CIP goal, default ask), priority
// (default normal), peer and forward (PeerIDs).
func intentOf(md map[string]any, path string, sp *SendParams) *Error {
	get := func(k string) (string, *Error) {
		v, ok := md[k]
		if !ok || v == nil {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", invalid(path+"."+k, "must be a string")
		}
		if s == "" || len(s) > MaxID || !utf8.ValidString(s) {
			return "", invalid(path+"."+k, "must be 1..%d bytes of UTF-8", MaxID)
		}
		return s, nil
	}
	topic, err := get("topic")
	if err != nil {
		return err
	}
	if topic == "" {
		topic = DefaultTopic
	}
	sp.Intent.Topic = topic
	for _, e := range []struct {
		key, def, allowed string
		dst               encoding.TextUnmarshaler
	}{
		{"goal", cip.GoalAsk.String(), "verify_knowledge|ask|learn|propose_solution|test_hypothesis", &sp.Intent.Goal},
		{"priority", cip.PriorityNormal.String(), "low|normal|high", &sp.Intent.Priority},
	} {
		v, err := get(e.key)
		if err != nil {
			return err
		}
		if v == "" {
			v = e.def
		}
		if e.dst.UnmarshalText([]byte(v)) != nil {
			return invalid(path+"."+e.key, "must be %s (got %q)", e.allowed, v)
		}
	}
	for k, dst := range map[string]*peer.ID{"peer": &sp.Peer, "forward": &sp.Forward} {
		s, err := get(k)
		if err != nil {
			return err
		}
		if s == "" {
			continue
		}
		id, perr := peer.Decode(s)
		if perr != nil {
			return invalid(path+"."+k, "%q is not a PeerID", s)
		}
		*dst = id
	}
	if sp.Peer != "" && sp.Forward != "" {
		return invalid(path, "name either peer (an INTENT to that peer) or forward (the task to that node's gateway), not both")
	}
	return nil
}

// object decodes raw as a JSON object whose members are all in allowed.
func object(raw json.RawMessage, path string, allowed ...string) (map[string]json.RawMessage, *Error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, invalid(path, "must be a JSON object")
	}
	for k := range m {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
				break
			}
		}
		if !ok {
			return nil, invalid(path, "unknown member %q", k)
		}
	}
	if dup := duplicate(raw); dup != "" {
		return nil, invalid(path, "member %q appears twice", dup)
	}
	return m, nil
}

// duplicate returns a top-level member name of the object raw that
// appears more than once ("" if none): encoding/json keeps the last one,
// which would let two readers see two different requests.
func duplicate(raw json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		k, _ := t.(string)
		if seen[k] {
			return k
		}
		seen[k] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return ""
		}
	}
	return ""
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

func str(m map[string]json.RawMessage, k, path string, dst *string, required bool) *Error {
	v, ok := m[k]
	if !ok || isNull(v) {
		if required {
			return invalid(path, "required")
		}
		return nil
	}
	if json.Unmarshal(v, dst) != nil {
		return invalid(path, "must be a string")
	}
	if required && *dst == "" {
		return invalid(path, "required (empty)")
	}
	return nil
}

func ident(m map[string]json.RawMessage, k, path string, dst *string, required bool) *Error {
	if err := str(m, k, path, dst, required); err != nil {
		return err
	}
	if len(*dst) > MaxID || !utf8.ValidString(*dst) {
		return invalid(path, "must be at most %d bytes of UTF-8", MaxID)
	}
	return nil
}

func count(m map[string]json.RawMessage, k, path string, dst *int) *Error {
	v, ok := m[k]
	if !ok || isNull(v) {
		return nil
	}
	var n int
	if json.Unmarshal(v, &n) != nil || n < 0 || n > MaxHistory {
		return invalid(path, "must be an integer within [0,%d]", MaxHistory)
	}
	*dst = n
	return nil
}

func metadata(m map[string]json.RawMessage, path string) (map[string]any, *Error) {
	k := path[strings.LastIndexByte(path, '.')+1:]
	v, ok := m[k]
	if !ok || isNull(v) {
		return nil, nil
	}
	if len(v) > MaxMetadata {
		return nil, invalid(path, "%d bytes, limit %d", len(v), MaxMetadata)
	}
	var md map[string]any
	if json.Unmarshal(v, &md) != nil || md == nil {
		return nil, invalid(path, "must be a JSON object")
	}
	return md, nil
}

// Response is one JSON-RPC response.
type Response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *Error          `json:"error,omitempty"`
}

// Reply builds the response to id: result, or err when it is not nil.
func Reply(id json.RawMessage, result any, err *Error) Response {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	if err != nil {
		return Response{JSONRPC: "2.0", ID: id, Error: err}
	}
	return Response{JSONRPC: "2.0", ID: id, Result: result}
}

// VersionHeader is the HTTP header in which A2A clients name the protocol
// version of their request.
const VersionHeader = "A2A-Version"

// CheckVersion checks a request's A2A-Version header: absent (a v0.3
// client), 0.3 or 1.0 (any patch) are served; anything else is
// VersionNotSupported.
func CheckVersion(v string) *Error {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	for _, ok := range []string{"1.0", "0.3"} {
		if v == ok || strings.HasPrefix(v, ok+".") {
			return nil
		}
	}
	return errf(CodeVersionNotSupported, "header %s: version %q is not supported (this agent speaks 1.0 and 0.3)", VersionHeader, v)
}

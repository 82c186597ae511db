package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/web4p2p/web4p2p/agentloop"
	"github.com/web4p2p/web4p2p/knowledge"
	"github.com/web4p2p/web4p2p/node/human"
	"github.com/web4p2p/web4p2p/node/learn"
	"github.com/web4p2p/web4p2p/node/peers"
	"github.com/web4p2p/web4p2p/node/rtt"
	"github.com/web4p2p/web4p2p/protocols/cip"
	"github.com/web4p2p/web4p2p/protocols/envelope"
	"github.com/web4p2p/web4p2p/protocols/hcp"
	"github.com/web4p2p/web4p2p/protocols/lip"
	"github.com/web4p2p/web4p2p/protocols/lip/fetch"
)

// mapErr turns the areas' typed errors into API errors with stable kinds
// (the Python client maps them to exceptions). An *Error passes through;
// an error it does not know stays as is (500 internal).
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var ae *Error
	var fe *hcp.FieldError
	switch {
	case errors.As(err, &ae):
		return err
	// transport
	case errors.Is(err, peers.ErrUnknownPeer):
		return Errorf(http.StatusNotFound, "unknown_peer", "%v", err)
	case errors.Is(err, peers.ErrChannelClosed), errors.Is(err, rtt.ErrClosed):
		return Errorf(http.StatusConflict, "channel_closed", "%v", err)
	case errors.Is(err, rtt.ErrBackpressure):
		return Errorf(http.StatusTooManyRequests, "rtt_backpressure", "%v", err)
	case errors.Is(err, rtt.ErrHandshake):
		return Errorf(http.StatusBadGateway, "rtt_handshake", "%v", err)
	case errors.Is(err, rtt.ErrReplay):
		return Errorf(http.StatusConflict, "rtt_replay", "%v", err)
	case errors.Is(err, rtt.ErrFrameTooLarge):
		return Errorf(http.StatusRequestEntityTooLarge, "frame_too_large", "%v", err)
	case errors.Is(err, rtt.ErrTransport):
		return Errorf(http.StatusBadGateway, "rtt_transport", "%v", err)
	// knowledge
	case errors.Is(err, knowledge.ErrUnknownFact):
		return Errorf(http.StatusNotFound, "unknown_fact", "%v", err)
	case errors.Is(err, knowledge.ErrExpired):
		return Errorf(http.StatusConflict, "expired", "%v", err)
	case errors.Is(err, cip.ErrBuild), errors.Is(err, knowledge.ErrInvalidFact), errors.Is(err, knowledge.ErrInvalidVote):
		return Errorf(http.StatusBadRequest, "payload_schema", "%v", err)
	// human
	case errors.As(err, &fe) && fe.Field != "":
		return &Error{Status: http.StatusBadRequest, Kind: "invalid_state", Detail: fmt.Sprintf("field %q: %s", fe.Field, fe.Reason), Field: fe.Field}
	case errors.As(err, &fe):
		return Errorf(http.StatusBadRequest, "invalid_state", "%s", fe.Reason)
	case errors.Is(err, hcp.ErrInvalidState):
		return Errorf(http.StatusBadRequest, "invalid_state", "%v", err)
	case errors.Is(err, envelope.ErrPayloadSchema):
		return Errorf(http.StatusBadRequest, "payload_schema", "%v", err)
	case errors.Is(err, human.ErrUnknownDecision), errors.Is(err, agentloop.ErrNotFound):
		return Errorf(http.StatusNotFound, "not_found", "%v", err)
	case errors.Is(err, hcp.ErrBuild), errors.Is(err, hcp.ErrPayload):
		return Errorf(http.StatusBadRequest, "bad_request", "%v", err)
	case errors.Is(err, hcp.ErrNotHeld):
		return Errorf(http.StatusNotFound, "not_found", "%v", err)
	case errors.Is(err, hcp.ErrHoldFull):
		return Errorf(http.StatusTooManyRequests, "hold_full", "%v", err)
	case errors.Is(err, agentloop.ErrBackpressure):
		return Errorf(http.StatusTooManyRequests, "backpressure", "%v", err)
	case errors.Is(err, human.ErrNoHuman), errors.Is(err, agentloop.ErrClosed):
		return Errorf(http.StatusServiceUnavailable, "unavailable", "%v", err)
	// LIP
	case errors.Is(err, lip.ErrNoURI):
		return Errorf(http.StatusBadRequest, "bad_request", "%v", err)
	case errors.Is(err, lip.ErrQueueFull):
		return Errorf(http.StatusServiceUnavailable, "queue_full", "%v", err)
	case errors.Is(err, learn.ErrNoLIP):
		return Errorf(http.StatusServiceUnavailable, "no_lip", "%v", err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return Errorf(http.StatusGatewayTimeout, "timeout", "%v", err)
	}
	return err
}

// fetchErrors are the fetch refusals reported as fetch_refused.
var fetchErrors = []error{fetch.ErrBadURI, fetch.ErrForbiddenScheme, fetch.ErrForbiddenAddress, fetch.ErrResolve, fetch.ErrTooLarge, fetch.ErrTooManyRedirects,
	fetch.ErrTimeout, fetch.ErrInvalidUTF8, fetch.ErrUnsupportedCharset, fetch.ErrUnsupportedContentType,
	fetch.ErrHTTPStatus, fetch.ErrNetwork}

func isFetchError(err error) bool {
	for _, s := range fetchErrors {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FieldOf is the request field an error detail names the API's way: a
// detail starting `field "x"` or `fields "x" and …` (the first), or the
// decoder's `unknown field "x"`. Anything else names no field: "".
func FieldOf(detail string) string {
	for _, prefix := range []string{`field "`, `fields "`, `unknown field "`} {
		rest, ok := strings.CutPrefix(detail, prefix)
		if !ok {
			continue
		}
		name, _, closed := strings.Cut(rest, `"`)
		if closed && name != "" && !strings.ContainsAny(name, " \t\r\n\\") {
			return name
		}
	}
	return ""
}

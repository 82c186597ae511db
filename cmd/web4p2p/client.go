package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/web4p2p/web4p2p/node"
	"github.com/web4p2p/web4p2p/node/agentapi"
	"github.com/web4p2p/web4p2p/node/api"
)

var (
	apiFlag       = &cli.StringFlag{Name: "api", Usage: "control API address host:port (default: read from <data-dir>/api.addr)"}
	tokenFileFlag = &cli.StringFlag{Name: "token-file", Usage: "bearer token file (default: <data-dir>/api.token)"}
	clientFlags   = []cli.Flag{dataDirFlag, apiFlag, tokenFileFlag, jsonFlag}
)

// apiClient talks to a running node's control API: requests go through
// agentapi.Client (the one HTTP client of the API, shared with `mcp`);
// base, token and http serve the event stream.
type apiClient struct {
	base  string
	token string
	http  *http.Client
	api   *agentapi.Client
}

func newAPIClient(c *cli.Context) (*apiClient, error) {
	dir := c.String("data-dir")
	addr := c.String("api")
	if addr == "" {
		b, err := os.ReadFile(filepath.Join(dir, node.APIAddrFile))
		if err != nil {
			return nil, fmt.Errorf("node not running for data dir %s (no %s; start it with 'web4p2p start' or pass --api)", dir, node.APIAddrFile)
		}
		addr = strings.TrimSpace(string(b))
	}
	tf := c.String("token-file")
	if tf == "" {
		tf = filepath.Join(dir, api.TokenFile)
	}
	tok, err := api.ReadToken(tf)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{}
	base := "http://" + addr
	return &apiClient{base: base, token: tok, http: hc, api: agentapi.NewClient(base, tok, hc)}, nil
}

// call does one request; out may be nil. A non-2xx reply becomes an error
// carrying the API's {error, detail}, worded for a person at a terminal.
func (a *apiClient) call(ctx context.Context, method, path string, in, out any) error {
	err := a.api.Call(ctx, method, path, in, out)
	var e *api.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, agentapi.ErrUnreachable):
		return fmt.Errorf("node not reachable at %s (is it running?)", strings.TrimPrefix(a.base, "http://"))
	case !errors.As(err, &e):
		return err
	case e.Kind == "http_error":
		return fmt.Errorf("control API: %s", e.Detail)
	case e.Kind == "unauthorized":
		return fmt.Errorf("control API refused the token (%s): check --token-file / the data dir", e.Detail)
	}
	return &apiError{Status: e.Status, Kind: e.Kind, Detail: e.Detail}
}

func clientCtx(c *cli.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Context, d)
}

// request is the common shape of an operator command: call the running
// node's API and, with --json, print the reply as is. It returns printed =
// true when the command is done (JSON printed); otherwise the caller
// renders out for a person.
func request(c *cli.Context, timeout time.Duration, method, path string, in, out any) (printed bool, err error) {
	cl, err := newAPIClient(c)
	if err != nil {
		return false, err
	}
	ctx, cancel := clientCtx(c, timeout)
	defer cancel()
	if err := cl.call(ctx, method, path, in, out); err != nil {
		return false, err
	}
	if c.Bool("json") {
		printJSON(c, out)
		return true, nil
	}
	return false, nil
}

// apiError is a control API error reply: its kind ("not_found",
// "timeout") lets a command react to one; it prints as "kind: detail".
type apiError struct {
	Status       int
	Kind, Detail string
}

func (e *apiError) Error() string { return e.Kind + ": " + e.Detail }

// isKind reports whether err is an API error of that kind.
func isKind(err error, kind string) bool {
	var e *apiError
	return errors.As(err, &e) && e.Kind == kind
}

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/urfave/cli/v2"

	"github.com/web4p2p/web4p2p/node"
)

func idCommand() *cli.Command {
	return &cli.Command{
		Name:  "id",
		Usage: "print this node's PeerID, fingerprint and addresses (creates the identity on first use; a running node's real addresses)",
		Flags: []cli.Flag{dataDirFlag, listenFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			key, created, err := node.LoadOrCreateIdentity(c.String("data-dir"), nil)
			if err != nil {
				return err
			}
			id, err := peer.IDFromPrivateKey(key)
			if err != nil {
				return err
			}
			fp, err := fingerprint(key.GetPublic())
			if err != nil {
				return err
			}
			var addrs []string
			for _, l := range c.StringSlice("listen") {
				a, err := ma.NewMultiaddr(l)
				if err != nil {
					return fmt.Errorf("--listen %q: %v", l, err)
				}
				addrs = append(addrs, a.Encapsulate(ma.StringCast("/p2p/"+id.String())).String())
			}
			// A node running on this data dir knows its real addresses
			// (ports picked at start): ask it, unless --listen was given.
			running := false
			if !c.IsSet("listen") {
				if live, ok := runningAddrs(c); ok {
					addrs, running = live, true
				}
			}
			if c.Bool("json") {
				return json.NewEncoder(c.App.Writer).Encode(map[string]any{
					"peer_id": id.String(), "fingerprint": fp, "addrs": addrs, "created": created,
					"data_dir": c.String("data-dir"), "running": running,
				})
			}
			if created {
				fmt.Fprintf(c.App.Writer, "created a new identity in %s\n", c.String("data-dir"))
			}
			fmt.Fprintf(c.App.Writer, "PeerID:      %s\nfingerprint: %s\n", id, fp)
			for _, a := range addrs {
				fmt.Fprintf(c.App.Writer, "address:     %s\n", a)
			}
			return nil
		},
	}
}

// fingerprint is the lowercase hex SHA-256 of the raw Ed25519 public key
// (SPEC §1).
func fingerprint(pub crypto.PubKey) (string, error) {
	raw, err := pub.Raw()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:]), nil
}

// runningAddrs asks the node running on the data dir for its addresses.
func runningAddrs(c *cli.Context) ([]string, bool) {
	cl, err := newAPIClient(c)
	if err != nil {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(c.Context, 2*time.Second)
	defer cancel()
	var st struct {
		Addrs []string `json:"addrs"`
	}
	if err := cl.call(ctx, "GET", "/v1/status", nil, &st); err != nil {
		return nil, false
	}
	return st.Addrs, true
}

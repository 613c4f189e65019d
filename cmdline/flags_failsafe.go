package cmdline

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/agent"
	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/peer"
)

// failsafeFlags are the failsafe's run flags (issue 16); the peer
// channel's own flags are in flags_peer.go.
func failsafeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "failsafe", EnvVars: envs("failsafe"),
			Usage: "keep leading while the election backend is unreachable, as long as every --peer promises not to take over (needs --peer and --peer-key-file on every node)"},
		&cli.DurationFlag{Name: "failsafe-promise", Value: election.DefaultFailsafePromise, EnvVars: envs("failsafe-promise"),
			Usage: "how long one failsafe promise lasts; after a SIGKILL in failsafe a follower leads within this + --lease-ttl"},
	}
}

// failsafeSettings are the checked failsafe flags.
type failsafeSettings struct {
	on      bool
	promise time.Duration
}

// parseFailsafe is phase 1: --failsafe needs the peer channel (pcfg, nil
// without --peer) and a promise that fits the timing.
func parseFailsafe(c *cli.Context, timing election.Config, pcfg *peer.Config) (failsafeSettings, error) {
	s := failsafeSettings{on: c.Bool("failsafe"), promise: c.Duration("failsafe-promise")}
	if !s.on {
		if c.IsSet("failsafe-promise") {
			return s, flagErr("failsafe-promise", "needs --failsafe")
		}
		return s, nil
	}
	if pcfg == nil {
		return s, flagErr("failsafe", "needs --peer and --peer-key-file (the promises travel over the peer channel)")
	}
	if c.String("state-dir") == "" {
		return s, flagErr("failsafe", "needs --state-dir: promises given to a leader must survive a restart")
	}
	if err := election.ValidateFailsafePromise(s.promise, timing); err != nil {
		return s, err
	}
	return s, nil
}

// peerParts is the peer channel built in phase 3.
type peerParts struct {
	link *agent.PeerLink
	node *peer.Node
}

// buildPeers builds the peer channel and, with --failsafe, the promise
// book and the engine's failsafe options (opts is filled in); the backend
// then writes its lease with TTL lease-ttl + P. It returns nil without
// --peer. Bind the engine with bindPeers once it exists.
func buildPeers(c *cli.Context, pcfg *peer.Config, fs failsafeSettings, backend election.Backend, opts *election.Options,
	log *slog.Logger, reg prometheus.Registerer) (*peerParts, error) {
	if pcfg == nil {
		return nil, nil
	}
	ids := make([]string, 0, len(pcfg.Peers))
	for id := range pcfg.Peers {
		ids = append(ids, id)
	}
	link := agent.NewPeerLink(pcfg.Self, ids, fs.promise, log.With("part", "peers"))
	node, err := peer.New(*pcfg, link.Handle, log.With("part", "peer"), reg)
	if err != nil {
		return nil, err
	}
	if fs.on {
		dir := c.String("state-dir")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, flagErr("state-dir", "cannot create %s: %v", dir, err)
		}
		book, err := election.OpenPromiseBook(election.PromiseFilePath(dir, c.String("lease-name")), nil, nil, node.MaxSkew())
		if err != nil {
			return nil, fmt.Errorf("--state-dir: %w", err)
		}
		election.ExtendRecordTTL(backend, fs.promise)
		opts.Failsafe, opts.Promises = link, book
	}
	return &peerParts{link: link, node: node}, nil
}

// bindPeers attaches the engine and the channel to the link and the link
// to the agent's parts.
func (p *peerParts) bind(eng *election.Engine, parts *agent.Parts) {
	if p == nil {
		return
	}
	p.link.Bind(p.node, eng)
	parts.Peers = p.link
}

package cmdline

import (
	"net"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/peer"
)

// peerFlags are the run flags of the authenticated peer channel (issue 16).
// The failsafe's own flags (--failsafe, ...) live with the failsafe.
func peerFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "peer", EnvVars: envs("peer"),
			Usage: "a member of the group for the authenticated peer channel, NODEID=HOST:PORT (UDP); repeat or comma-separate; this node's own entry is ignored, so every node can get the same list"},
		&cli.StringFlag{Name: "peer-listen", EnvVars: envs("peer-listen"), DefaultText: ":" + strconv.Itoa(peer.DefaultPort) + " with --peer",
			Usage: "UDP host:port the peer channel listens on (open it in the firewall between the members)"},
		&cli.StringFlag{Name: "peer-key-file", EnvVars: envs("peer-key-file"),
			Usage: "the group's shared key file, required with --peer: one or two keys of at least 32 bytes, one per line (the first signs, both verify: key rotation); mode 0600"},
	}
}

// parsePeerFlags is phase 1 for the peer channel: it checks --peer,
// --peer-listen and that --peer-key-file is given, without I/O. It
// returns nil without --peer. The keys are read in phase 2
// (resolvePeerKeys).
func parsePeerFlags(c *cli.Context) (*peer.Config, error) {
	specs := c.StringSlice("peer")
	if len(specs) == 0 {
		for _, f := range []string{"peer-listen", "peer-key-file"} {
			if c.IsSet(f) {
				return nil, flagErr(f, "needs --peer (the members of the group)")
			}
		}
		return nil, nil
	}
	self := c.String("node-id")
	peers, err := peer.ParsePeers(specs, self)
	if err != nil {
		return nil, err
	}
	listen := c.String("peer-listen")
	if listen == "" {
		listen = net.JoinHostPort("", strconv.Itoa(peer.DefaultPort))
	}
	if c.String("peer-key-file") == "" {
		return nil, flagErr("peer-key-file", "required with --peer (the peer channel has no unauthenticated mode)")
	}
	cfg := &peer.Config{Group: c.String("lease-name"), Self: self, Listen: listen, Peers: peers}
	if err := cfg.ValidateSettings(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// resolvePeerKeys is phase 2 for the peer channel: it reads
// --peer-key-file into cfg (nil: no peer channel, nothing to do).
func resolvePeerKeys(c *cli.Context, cfg *peer.Config) error {
	if cfg == nil {
		return nil
	}
	keys, err := peer.LoadKeys(c.String("peer-key-file"))
	if err != nil {
		return err
	}
	cfg.Keys = keys
	return cfg.Validate()
}

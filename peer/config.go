// Package peer is the authenticated channel between the members of a
// group: small UDP datagrams, each with an HMAC-SHA256 over the whole
// message (group, sender, recipient and sequence included), refused when
// forged, replayed, stale, misaddressed or from a node outside the set.
// The failsafe logic (agent) sends heartbeats, promise requests and
// handovers over it.
package peer

import (
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lbhc/lbhc/configerr"
)

// DefaultPort is the peer channel's UDP port when --peer-listen is not set.
const DefaultPort = 26002

// DefaultHeartbeat is the interval at which the agent sends Status to
// every peer; a peer is down after 3 intervals without an authenticated
// message from it.
const DefaultHeartbeat = time.Second

// Config is one node's view of its group.
type Config struct {
	Group  string            // the lease name: messages of another group are refused
	Self   string            // this node's id
	Listen string            // UDP host:port
	Peers  map[string]string // node id -> host:port, Self excluded
	Keys   [][]byte          // Keys[0] signs; every key verifies
	// MaxSkew bounds a message's timestamp against the receiver's wall
	// clock, either way (0 = DefaultMaxSkew).
	MaxSkew time.Duration
	// Heartbeat is the agent's Status interval; lbhc_peer_up and
	// PeerStatus.Up drop after 3 of them in silence (0 = DefaultHeartbeat).
	Heartbeat time.Duration
}

// withDefaults fills the zero durations.
func (c Config) withDefaults() Config {
	if c.MaxSkew == 0 {
		c.MaxSkew = DefaultMaxSkew
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	return c
}

// Validate checks the whole configuration, keys included, without I/O.
func (c *Config) Validate() error {
	if err := c.ValidateSettings(); err != nil {
		return err
	}
	switch {
	case len(c.Keys) == 0:
		return configerr.New(keyFlag, "required with --peer (the channel has no unauthenticated mode)")
	case len(c.Keys) > 2:
		return configerr.New(keyFlag, "%d keys, want 1 or 2", len(c.Keys))
	}
	for i, k := range c.Keys {
		if len(k) < MinKeyLen {
			return configerr.New(keyFlag, "key %d is %d bytes, want at least %d", i+1, len(k), MinKeyLen)
		}
	}
	return nil
}

// ValidateSettings checks everything but the keys: the command line's
// parse phase calls it before the key file is read.
func (c *Config) ValidateSettings() error {
	switch {
	case c.Group == "":
		return configerr.New("lease-name", "must not be empty (it names the peer group)")
	case len(c.Group) > MaxGroupLen:
		return configerr.New("lease-name", "is %d bytes, at most %d with --peer", len(c.Group), MaxGroupLen)
	case c.Self == "":
		return configerr.New("node-id", "must not be empty with --peer")
	case len(c.Self) > MaxIDLen:
		return configerr.New("node-id", "is %d bytes, at most %d with --peer", len(c.Self), MaxIDLen)
	case len(c.Peers) == 0:
		return configerr.New("peer", "names no node other than this one (%s)", c.Self)
	case c.MaxSkew < 0 || c.MaxSkew > time.Minute:
		return configerr.New("peer", "max skew %s is out of range 0-1m", c.MaxSkew)
	case c.Heartbeat < 0:
		return configerr.New("peer", "heartbeat %s is negative", c.Heartbeat)
	}
	if _, _, err := splitHostPort(c.Listen, true); err != nil {
		return configerr.New("peer-listen", "%q: %v", c.Listen, err)
	}
	for id, addr := range c.Peers {
		if err := checkID(id); err != nil {
			return configerr.New("peer", "%s: %v", id, err)
		}
		if id == c.Self {
			return configerr.New("peer", "%s is this node (--node-id): Peers excludes it", id)
		}
		if _, _, err := splitHostPort(addr, false); err != nil {
			return configerr.New("peer", "%s=%s: %v", id, addr, err)
		}
	}
	return nil
}

// ParsePeers reads --peer values NODEID=HOST:PORT into a map without I/O.
// The entry for self is dropped (so one list can be shipped to every
// node); a duplicate id, an empty id or host, or a port outside 1-65535
// is an error naming --peer.
func ParsePeers(specs []string, self string) (map[string]string, error) {
	peers := make(map[string]string, len(specs))
	seen := make(map[string]bool, len(specs))
	for _, s := range specs {
		id, addr, ok := strings.Cut(strings.TrimSpace(s), "=")
		if !ok {
			return nil, configerr.New("peer", "%q is not NODEID=HOST:PORT", s)
		}
		if err := checkID(id); err != nil {
			return nil, configerr.New("peer", "%q: %v", s, err)
		}
		if seen[id] {
			return nil, configerr.New("peer", "node id %s appears twice", id)
		}
		seen[id] = true
		if _, _, err := splitHostPort(addr, false); err != nil {
			return nil, configerr.New("peer", "%q: %v", s, err)
		}
		if id != self {
			peers[id] = addr
		}
	}
	return peers, nil
}

func checkID(id string) error {
	switch {
	case id == "":
		return errString("the node id is empty")
	case len(id) > MaxIDLen:
		return errString("the node id is longer than " + strconv.Itoa(MaxIDLen) + " bytes")
	case strings.IndexFunc(id, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return errString("the node id contains blanks or control characters")
	}
	return nil
}

// splitHostPort checks host:port syntax; the host may be empty (all
// addresses) only for a listen address, and a listen port may be 0 (any).
func splitHostPort(addr string, listen bool) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, errString("not HOST:PORT")
	}
	n, err := strconv.Atoi(port)
	lo := 1
	if listen {
		lo = 0
	}
	if err != nil || n < lo || n > 65535 {
		return "", 0, errString("port " + strconv.Quote(port) + " is not a number " + strconv.Itoa(lo) + "-65535")
	}
	if host == "" && !listen {
		return "", 0, errString("the host is empty")
	}
	return host, n, nil
}

type errString string

func (e errString) Error() string { return string(e) }

// sortedIDs are the configured peers' ids in order.
func sortedIDs(peers map[string]string) []string {
	ids := make([]string, 0, len(peers))
	for id := range peers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

package peer

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Handler is called by the receive loop for every authenticated message
// that is not the reply to a pending Request. A non-nil reply is sent back
// to the sender with the message's ReqID. It must not block: while it
// runs no datagram is read, so calling Request from it would wait for a
// reply nobody reads until the request's context ends.
type Handler func(from string, m Message) *Message

// ErrNotRunning is returned by Send and Request before Run has bound the
// socket or after it returned.
var ErrNotRunning = errors.New("peer channel not running")

var (
	errEnvelope = errors.New("peer: group or node id empty or too long")
	errMessage  = errors.New("peer: message kind, role, target or until out of range")
)

// Node is one member's end of the channel.
type Node struct {
	cfg     Config
	handler Handler
	log     *slog.Logger
	m       *metrics
	now     func() time.Time // wall clock with monotonic reading; tests replace it
	ids     []string         // configured peers, sorted
	peers   map[string]*peerState

	// The receive loop's own state: one buffer, one verifier, one log
	// limiter, whatever arrives.
	buf  [MaxDatagram + 1]byte
	ver  *verifier
	rlog refusalLog

	mu      sync.Mutex // guards everything below and peerState's status fields
	conn    *net.UDPConn
	ran     bool
	seq     uint64    // last sequence sent
	sign    hash.Hash // HMAC with Keys[0]
	sendBuf [MaxDatagram]byte
	pending map[uint64]*pending
	reqID   uint64
}

// peerState is one configured peer. lastSeq belongs to the receive loop;
// the other fields are guarded by Node.mu.
type peerState struct {
	id, addr   string
	dst        netip.AddrPort // resolved addr (invalid until resolved)
	lastSeq    uint64
	seen       bool
	lastAt     time.Time
	last       Message
	lastStatus Message
	received   [kindEnd]prometheus.Counter
}

type pending struct {
	peer *peerState
	kind Kind
	ch   chan Message
}

// PeerStatus is what a node knows of one configured peer.
type PeerStatus struct {
	ID   string
	Addr string // as configured
	// Up: an authenticated message arrived within 3 heartbeat intervals.
	Up bool
	// Seen: some authenticated message arrived since Run started; LastSeen
	// is its age on this node's monotonic clock (0 when !Seen).
	Seen     bool
	LastSeen time.Duration
	// Last is the latest authenticated message of any kind, LastStatus
	// the latest Status (role and term).
	Last, LastStatus Message
}

// New checks c and builds a node; nothing listens until Run. h may be nil
// (messages are then only counted and tracked).
func New(c Config, h Handler, log *slog.Logger, reg prometheus.Registerer) (*Node, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Node{
		cfg: c, handler: h, log: log, now: time.Now, ids: sortedIDs(c.Peers),
		peers: make(map[string]*peerState, len(c.Peers)), ver: newVerifier(c.Keys),
		sign: hmac.New(sha256.New, c.Keys[0]), pending: map[uint64]*pending{},
		reqID: rand.Uint64(), // a restarted node does not reuse its earlier request ids
	}
	for id, addr := range c.Peers {
		p := &peerState{id: id, addr: addr}
		p.dst, _ = netip.ParseAddrPort(addr) // literal addresses need no look-up
		n.peers[id] = p
	}
	var err error
	if n.m, err = newMetrics(n, reg); err != nil {
		return nil, err
	}
	return n, nil
}

// Heartbeat is the Status interval the node's Up assumes.
func (n *Node) Heartbeat() time.Duration { return n.cfg.Heartbeat }

// MaxSkew is the clock difference the node tolerates either way.
func (n *Node) MaxSkew() time.Duration { return n.cfg.MaxSkew }

// Run binds Listen and serves until ctx ends (then nil). A bind error
// returns at once. Run may be called once.
func (n *Node) Run(ctx context.Context) error {
	n.mu.Lock()
	if n.ran {
		n.mu.Unlock()
		return errors.New("peer: Run called twice")
	}
	n.ran = true
	n.mu.Unlock()
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", n.cfg.Listen)
	if err != nil {
		return fmt.Errorf("peer channel: listen on %s (--peer-listen): %w", n.cfg.Listen, err)
	}
	conn := pc.(*net.UDPConn)
	n.mu.Lock()
	n.conn = conn
	n.mu.Unlock()
	n.log.Info("peer channel listening", "address", conn.LocalAddr().String(), "peers", len(n.ids))
	n.resolveAll(ctx)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer func() {
		n.mu.Lock()
		n.conn = nil
		n.mu.Unlock()
		conn.Close()
	}()
	for {
		k, src, err := conn.ReadFromUDPAddrPort(n.buf[:])
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if k > MaxDatagram { // Windows reports a truncated datagram as an error
				n.refuse(reasonOversize, src)
			}
			continue
		}
		n.serve(n.buf[:k], src)
	}
}

// LocalAddr is the bound address while Run serves, else nil.
func (n *Node) LocalAddr() net.Addr {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		return nil
	}
	return n.conn.LocalAddr()
}

// serve handles one datagram: refuse, deliver to a Request, or call the
// handler and send its reply.
func (n *Node) serve(b []byte, src netip.AddrPort) {
	p, m, r := n.accept(b)
	if r != accepted {
		n.refuse(r, src)
		return
	}
	if m.ReqID != 0 && n.deliver(p, m) {
		return
	}
	if n.handler == nil {
		return
	}
	if reply := n.handler(p.id, m); reply != nil {
		reply.ReqID = m.ReqID
		if err := n.send(p, *reply, src); err != nil {
			n.log.Debug("peer reply not sent", "peer", p.id, "err", err)
		}
	}
}

// accept authenticates one datagram and decides whether it is fresh. It
// records an accepted message's sequence and content. Layout checks come
// first and allocate nothing; only a datagram with a valid MAC gets as
// far as the group, recipient, sender and freshness checks, so only a key
// holder can make a node count anything but malformed, oversize or bad_mac.
func (n *Node) accept(b []byte) (*peerState, Message, reason) {
	if len(b) > MaxDatagram {
		return nil, Message{}, reasonOversize
	}
	f, ok := parse(b)
	if !ok {
		return nil, Message{}, reasonMalformed
	}
	if !n.ver.verify(&f) {
		return nil, Message{}, reasonBadMAC
	}
	if string(f.group) != n.cfg.Group {
		return nil, Message{}, reasonWrongGroup
	}
	if string(f.to) != n.cfg.Self {
		return nil, Message{}, reasonWrongRecipient
	}
	p := n.peers[string(f.from)]
	if p == nil {
		return nil, Message{}, reasonUnknownSender
	}
	now := n.now()
	if r := fresh(p.lastSeq, f.seq, now, n.cfg.MaxSkew); r != accepted {
		return nil, Message{}, r
	}
	p.lastSeq = f.seq
	m := f.message()
	n.mu.Lock()
	p.seen, p.lastAt, p.last = true, now, m
	if m.Kind == Status {
		p.lastStatus = m
	}
	n.mu.Unlock()
	p.received[m.Kind].Inc()
	return p, m, accepted
}

func (n *Node) refuse(r reason, src netip.AddrPort) {
	n.m.refused[r].Inc()
	n.rlog.refused(n.log, r, src, n.now())
}

// deliver hands a reply to the Request waiting for it.
func (n *Node) deliver(p *peerState, m Message) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	w := n.pending[m.ReqID]
	if w == nil || w.peer != p || w.kind == m.Kind {
		return false
	}
	select {
	case w.ch <- m:
	default: // a duplicate reply: the first one counts
	}
	return true
}

// Peers lists every configured peer, sorted by id.
func (n *Node) Peers() []PeerStatus {
	now := n.now()
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]PeerStatus, 0, len(n.ids))
	for _, id := range n.ids {
		p := n.peers[id]
		s := PeerStatus{ID: id, Addr: p.addr, Seen: p.seen, Last: p.last, LastStatus: p.lastStatus}
		if p.seen {
			s.LastSeen = now.Sub(p.lastAt)
			s.Up = s.LastSeen < 3*n.cfg.Heartbeat
		}
		out = append(out, s)
	}
	return out
}

// up is lbhc_peer_up for p.
func (n *Node) up(p *peerState) bool {
	now := n.now()
	n.mu.Lock()
	defer n.mu.Unlock()
	return p.seen && now.Sub(p.lastAt) < 3*n.cfg.Heartbeat
}

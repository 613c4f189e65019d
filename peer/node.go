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
// to the sender with the message's ReqID. It must not block.
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

// resolveAll looks up the peers given by name, once at start; Send retries
// one that failed.
func (n *Node) resolveAll(ctx context.Context) {
	for _, id := range n.ids {
		if err := n.resolve(ctx, n.peers[id]); err != nil {
			n.log.Warn("peer address does not resolve yet", "peer", id, "err", err)
		}
	}
}

func (n *Node) resolve(ctx context.Context, p *peerState) error {
	n.mu.Lock()
	ok := p.dst.IsValid()
	n.mu.Unlock()
	if ok {
		return nil
	}
	host, port, _ := net.SplitHostPort(p.addr)
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return fmt.Errorf("resolve %s: %w", p.addr, err)
	}
	ap, err := netip.ParseAddrPort(net.JoinHostPort(ips[0].Unmap().String(), port))
	if err != nil {
		return err
	}
	n.mu.Lock()
	p.dst = ap
	n.mu.Unlock()
	return nil
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

// Send sends m to the configured peer to, once (heartbeats, handover).
func (n *Node) Send(to string, m Message) error {
	p := n.peers[to]
	if p == nil {
		return fmt.Errorf("peer: %q is not a configured peer", to)
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	if err := n.resolve(ctx, p); err != nil {
		return err
	}
	return n.send(p, m, netip.AddrPort{})
}

// send signs and sends m to p's address, or to fallback while p's name
// has not resolved.
func (n *Node) send(p *peerState, m Message, fallback netip.AddrPort) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		return ErrNotRunning
	}
	dst := p.dst
	if !dst.IsValid() {
		dst = fallback
	}
	if !dst.IsValid() {
		return fmt.Errorf("peer %s: address %s not resolved", p.id, p.addr)
	}
	seq := nextSeq(n.seq, n.now())
	b, err := encode(n.sendBuf[:], n.sign, envelope{group: n.cfg.Group, from: n.cfg.Self, to: p.id, seq: seq}, m)
	if err != nil {
		return err
	}
	n.seq = seq
	if _, err := n.conn.WriteToUDPAddrPort(b, dst); err != nil {
		return fmt.Errorf("peer %s: %w", p.id, err)
	}
	return nil
}

// resolveTimeout bounds Send's look-up of a peer given by name.
const resolveTimeout = 2 * time.Second

// minResend bounds how often Request resends (a context about to end).
const minResend = 10 * time.Millisecond

// Request sends m (with a fresh ReqID) to the peer to, resends it every
// quarter of the context's remaining time (every second without a
// deadline), and returns the first authenticated reply from that peer
// carrying the ReqID. Every resend is a new datagram with the same ReqID.
func (n *Node) Request(ctx context.Context, to string, m Message) (Message, error) {
	p := n.peers[to]
	if p == nil {
		return Message{}, fmt.Errorf("peer: %q is not a configured peer", to)
	}
	w := &pending{peer: p, kind: m.Kind, ch: make(chan Message, 1)}
	n.mu.Lock()
	n.reqID++
	if n.reqID == 0 {
		n.reqID++
	}
	m.ReqID = n.reqID
	n.pending[m.ReqID] = w
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.pending, m.ReqID)
		n.mu.Unlock()
	}()
	var lastErr error
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case r := <-w.ch:
			return r, nil
		case <-ctx.Done():
			if lastErr != nil {
				return Message{}, fmt.Errorf("peer %s: no reply: %w (last send: %v)", to, ctx.Err(), lastErr)
			}
			return Message{}, fmt.Errorf("peer %s: no reply: %w", to, ctx.Err())
		case <-t.C:
		}
		if err := n.resolve(ctx, p); err != nil {
			lastErr = err
		} else if err := n.send(p, m, netip.AddrPort{}); errors.Is(err, ErrNotRunning) {
			return Message{}, err
		} else if err != nil {
			lastErr = err
		}
		wait := time.Second
		if dl, ok := ctx.Deadline(); ok {
			wait = time.Until(dl) / 4
		}
		t.Reset(max(wait, minResend))
	}
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

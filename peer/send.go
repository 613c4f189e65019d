package peer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

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

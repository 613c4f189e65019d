// The announcement rounds (gratuitous ARP, unsolicited neighbour
// advertisements) that follow Add: the first at once, the rest and the
// periodic refresh in the background.

package vip

import (
	"context"
	"time"
)

// minGARPRefresh bounds --garp-refresh from below: neighbours and switches
// age entries in seconds to minutes, so faster refreshes only add traffic.
const minGARPRefresh = 100 * time.Millisecond

func (cfg Config) validateRefresh() error {
	switch {
	case cfg.GARPRefresh == 0:
		return nil
	case cfg.GARPRefresh < 0:
		return configErr("garp-refresh", "%v is negative", cfg.GARPRefresh)
	case cfg.GARPRefresh < minGARPRefresh:
		return configErr("garp-refresh", "%v is below the minimum %v", cfg.GARPRefresh, minGARPRefresh)
	case cfg.Mode == ModeLoopback:
		return configErr("garp-refresh", "needs --vip-mode nic (nothing is announced in loopback mode)")
	case cfg.GARPCount < 1:
		return configErr("garp-refresh", "needs --garp-count of at least 1")
	}
	return nil
}

// announceLater runs in the background after the first round: the
// remaining GARPCount-1 rounds GARPInterval apart, then, with GARPRefresh,
// one round every GARPRefresh until ctx ends (Remove, a new Add, Close), for
// segments whose switches or neighbours age entries out while the VIP sends
// nothing (keepalived's periodic master refresh).
func (m *Manager) announceLater(ctx context.Context, l link) {
	if m.cfg.GARPCount > 1 {
		t := time.NewTicker(m.cfg.GARPInterval)
		for i := 1; i < m.cfg.GARPCount; i++ {
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			m.announceRound(l)
		}
		t.Stop()
	}
	if m.cfg.GARPRefresh <= 0 {
		return
	}
	t := time.NewTicker(m.cfg.GARPRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.announceRound(l)
	}
}

// startAnnouncing sends the first round now and the others in the
// background. Called with mu held.
func (m *Manager) startAnnouncing(l link) {
	if !m.announces() {
		return
	}
	m.announceRound(l)
	if m.cfg.GARPCount < 2 && m.cfg.GARPRefresh <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	m.stopAnn, m.annDone = cancel, done
	go func() {
		defer close(done)
		m.announceLater(ctx, l)
	}()
}

// stopAnnouncing cancels the background rounds and waits for them, so that
// nothing is announced after Remove returns. Called with mu held.
func (m *Manager) stopAnnouncing() {
	if m.stopAnn == nil {
		return
	}
	m.stopAnn()
	<-m.annDone
	m.stopAnn, m.annDone = nil, nil
}

func (m *Manager) announceRound(l link) {
	for _, p := range m.cfg.Addrs {
		n, err := m.sys.announce(l, p)
		m.m.announcements.Add(float64(n))
		if err != nil {
			// Announcing is best effort: cloud networks ignore it and the
			// VIP is usable without it on a network that learns by traffic.
			m.m.announceErrs.Inc()
			m.log.Warn("announcing VIP failed", "addr", p.String(), "interface", l.Name, "err", err)
		}
	}
}

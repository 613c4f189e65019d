package vip

import "context"

// Reannounce makes sure the VIPs are present again (a link that came back
// may have lost IPv6 addresses) and restarts the announcement rounds, so
// neighbours and switches learn the leader's MAC again after a link flap.
// It does nothing unless the VIPs are wanted (after Add).
func (m *Manager) Reannounce(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.want {
		return nil
	}
	l, _, err := m.ensure(ctx, true)
	if err != nil {
		m.m.errors.WithLabelValues("reannounce").Inc()
		return err
	}
	m.stopAnnouncing()
	m.startAnnouncing(l)
	return nil
}

// linkUp is the state lbhc calls "up": administratively up and with a
// carrier (IFF_UP and IFF_LOWER_UP). A removed interface is down.
func linkUp(adminUp, lowerUp, removed bool) bool { return adminUp && lowerUp && !removed }

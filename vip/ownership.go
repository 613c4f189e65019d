// Adding and removing the VIPs while the role changes: Add, Remove and the
// Reconcile pass that makes the addresses match the role again.

package vip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Add makes every VIP present on the interface (idempotent) and sends the
// first announcement round; the remaining GARPCount-1 rounds follow in the
// background, GARPInterval apart, until done or Remove is called.
func (m *Manager) Add(ctx context.Context) error {
	start := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.want = true
	m.stopAnnouncing()
	l, _, err := m.ensure(ctx, false)
	if err != nil {
		m.m.errors.WithLabelValues("add").Inc()
		return err
	}
	m.log.Info("VIPs added", "vips", m.cfg.Addrs, "interface", l.Name, "took", time.Since(start))
	m.startAnnouncing(l)
	m.m.duration.WithLabelValues("add").Observe(time.Since(start).Seconds())
	return nil
}

// ensure adds the VIPs that are missing from the interface. It returns the
// link and how many VIPs it had to add. A VIP held by an address lbhc did
// not add is an error: it is neither adopted nor removed.
func (m *Manager) ensure(ctx context.Context, repairing bool) (link, int, error) {
	links, err := m.sys.links()
	if err != nil {
		return link{}, 0, fmt.Errorf("vip: listing interfaces: %w", err)
	}
	l, err := findLink(links, m.cfg.Interface, m.matchIndex, m.foldCase)
	if err != nil {
		return link{}, 0, err
	}
	addrs, err := m.sys.addrs()
	if err != nil {
		return l, 0, fmt.Errorf("vip: listing addresses: %w", err)
	}
	plan := planAdd(m.cfg.Addrs, l, addrs)
	var errs []error
	for _, f := range plan.foreign {
		errs = append(errs, fmt.Errorf("vip: %s is present on %s but was not added by lbhc; refusing to adopt it", f.Prefix, f.LinkName))
		for _, p := range m.cfg.Addrs {
			if p.Addr() == f.Prefix.Addr() {
				m.present[p] = false
				m.m.present.WithLabelValues(p.String()).Set(0)
			}
		}
	}
	for _, a := range plan.del {
		if err := m.sys.del(a); err != nil {
			errs = append(errs, fmt.Errorf("vip: moving %s off %s: %w", a.Prefix, a.LinkName, err))
		}
	}
	added := 0
	for _, p := range plan.add {
		if err := ctx.Err(); err != nil {
			return l, added, errors.Join(append(errs, err)...)
		}
		if err := m.sys.add(l, p); err != nil {
			m.present[p] = false
			m.m.present.WithLabelValues(p.String()).Set(0)
			errs = append(errs, fmt.Errorf("vip: adding %s to %s: %w", p, l.Name, err))
			continue
		}
		added++
		m.present[p] = true
		m.m.present.WithLabelValues(p.String()).Set(1)
		if repairing {
			m.m.repairs.Inc()
			m.log.Warn("VIP was missing while leading; re-added", "addr", p.String(), "interface", l.Name)
		}
	}
	for _, p := range plan.ok {
		m.present[p] = true
		m.m.present.WithLabelValues(p.String()).Set(1)
	}
	return l, added, errors.Join(errs...)
}

type addPlan struct {
	ok      []netip.Prefix // present, lbhc's, on the right link with the right length
	add     []netip.Prefix // to add
	del     []hostAddr     // lbhc's copy on another link or with another length
	foreign []hostAddr     // held by an address lbhc did not add
}

// planAdd decides, for each VIP, what Add has to do.
func planAdd(vips []netip.Prefix, l link, addrs []hostAddr) addPlan {
	var plan addPlan
	for _, p := range vips {
		state := "missing"
		for _, a := range addrs {
			if a.Prefix.Addr() != p.Addr() {
				continue
			}
			switch {
			case !a.Ours:
				plan.foreign = append(plan.foreign, a)
				state = "foreign"
			case a.LinkIndex == l.Index && a.Prefix == p:
				if state == "missing" {
					state = "ok"
				}
			default:
				plan.del = append(plan.del, a)
			}
		}
		switch state {
		case "ok":
			plan.ok = append(plan.ok, p)
		case "missing":
			plan.add = append(plan.add, p)
		}
	}
	return plan
}

// Remove deletes lbhc's VIPs (on any interface) and stops announcing them.
// Addresses lbhc did not add are left alone.
func (m *Manager) Remove(ctx context.Context) error {
	start := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.want = false
	m.stopAnnouncing()
	n, err := m.removeOurs(ctx, false)
	if err != nil {
		m.m.errors.WithLabelValues("remove").Inc()
		return err
	}
	m.log.Info("VIPs removed", "removed", n, "took", time.Since(start))
	m.m.duration.WithLabelValues("remove").Observe(time.Since(start).Seconds())
	return nil
}

func (m *Manager) removeOurs(ctx context.Context, repairing bool) (int, error) {
	addrs, err := m.sys.addrs()
	if err != nil {
		return 0, fmt.Errorf("vip: listing addresses: %w", err)
	}
	var errs []error
	n := 0
	for _, a := range addrs {
		if !a.Ours || !m.isVIP(a.Prefix.Addr()) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return n, errors.Join(append(errs, err)...)
		}
		if err := m.sys.del(a); err != nil {
			errs = append(errs, fmt.Errorf("vip: removing %s from %s: %w", a.Prefix, a.LinkName, err))
			continue
		}
		n++
		if repairing {
			m.m.repairs.Inc()
			m.log.Warn("VIP was present while not leading; removed", "addr", a.Prefix.String(), "interface", a.LinkName)
		}
	}
	m.observe(addrs, len(errs) == 0)
	return n, errors.Join(errs...)
}

// observe records the VIPs as absent after a successful removal pass, or as
// listed in addrs otherwise.
func (m *Manager) observe(addrs []hostAddr, allRemoved bool) {
	for _, p := range m.cfg.Addrs {
		have := false
		if !allRemoved {
			for _, a := range addrs {
				if a.Ours && a.Prefix.Addr() == p.Addr() {
					have = true
				}
			}
		}
		m.present[p] = have
		m.m.present.WithLabelValues(p.String()).Set(b2f(have))
	}
}

// Reconcile makes the addresses match the role: while leading (after Add),
// VIPs someone removed are re-added and announced again; otherwise lbhc's
// VIPs that are still present are removed. It returns how many VIPs it
// repaired (also counted in lbhc_vip_repairs_total).
func (m *Manager) Reconcile(ctx context.Context) (int, error) {
	start := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int
	var err error
	if m.want {
		var l link
		l, n, err = m.ensure(ctx, true)
		if n > 0 && err == nil {
			m.stopAnnouncing()
			m.startAnnouncing(l)
		}
	} else {
		n, err = m.removeOurs(ctx, true)
	}
	m.m.duration.WithLabelValues("reconcile").Observe(time.Since(start).Seconds())
	if err != nil {
		m.m.errors.WithLabelValues("reconcile").Inc()
	}
	return n, err
}

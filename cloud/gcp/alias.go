package gcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/lbhc/lbhc/cloud"
)

// AliasActionName is the gcp-alias-ip action's name in logs, metrics and
// /status.
const AliasActionName = "gcp-alias-ip"

// AliasConfig configures the gcp-alias-ip action.
type AliasConfig struct {
	Zone     string // this instance's zone
	Instance string // this instance's name
	NIC      string // its interface holding the ranges; "" = "nic0"
	Network  string // VPC network name: only owners on this network are looked for
	// Ranges are the alias IP ranges to hold; empty = every VIP as /32
	// (/128).
	Ranges []netip.Prefix
	// SubnetRange is the subnetwork secondary range the ranges come from
	// (subnetworkRangeName); "" = the subnetwork's primary range.
	SubnetRange string
	Retry       Retry
}

// AliasIP moves alias IP ranges to this instance's interface (Pacemaker
// gcp-vpc-move-vip). A range is held by at most one interface of a
// network, so the old owner's interface is updated first (its range
// removed), then ours (the range added); both writes carry the interface's
// fingerprint and are retried on a fingerprint conflict after a fresh read.
type AliasIP struct {
	cfg AliasConfig
	c   *Compute
	log *slog.Logger
	m   *Metrics
	st  *cloud.StatusBox
}

// NewAliasIP returns the gcp-alias-ip action; it makes no network call.
func NewAliasIP(cfg AliasConfig, c *Compute, log *slog.Logger, m *Metrics) (*AliasIP, error) {
	if cfg.Zone == "" || cfg.Instance == "" || cfg.Network == "" || c.Project == "" {
		return nil, errors.New("gcp-alias-ip: project, zone, instance and network are required")
	}
	if cfg.NIC == "" {
		cfg.NIC = "nic0"
	}
	cfg.Retry = cfg.Retry.withDefaults()
	m.Init(AliasActionName)
	return &AliasIP{cfg: cfg, c: c, log: log.With("action", AliasActionName), m: m, st: cloud.NewStatusBox(AliasActionName)}, nil
}

// Name implements Action.
func (a *AliasIP) Name() string { return AliasActionName }

// Status implements Action.
func (a *AliasIP) Status() Status { return a.st.Get() }

func (a *AliasIP) shell() cloud.Shell {
	return cloud.Shell{Name: AliasActionName, What: "GCP alias IP", Prefix: "gcp-alias-ip " + a.cfg.Instance, Log: a.log, M: a.m, St: a.st}
}

// Promote implements Action.
func (a *AliasIP) Promote(ctx context.Context, ev Event) error {
	return a.shell().Promote(ctx, ev, a.ensure)
}

// Monitor implements Action.
func (a *AliasIP) Monitor(ctx context.Context, ev Event) (bool, error) {
	return a.shell().Monitor(ctx, ev, a.ensure)
}

// Demote implements Action: the next leader takes the ranges over.
func (a *AliasIP) Demote(ctx context.Context, ev Event) error { return a.shell().Demote() }

// gceInstance and gceNIC are the parts of an Instance resource read here.
type gceInstance struct {
	Name              string   `json:"name"`
	Zone              string   `json:"zone"`
	Status            string   `json:"status"`
	NetworkInterfaces []gceNIC `json:"networkInterfaces"`
}

type gceNIC struct {
	Name          string     `json:"name"`
	Network       string     `json:"network"`
	Fingerprint   string     `json:"fingerprint"`
	AliasIPRanges []gceAlias `json:"aliasIpRanges"`
}

type gceAlias struct {
	IPCidrRange         string `json:"ipCidrRange"`
	SubnetworkRangeName string `json:"subnetworkRangeName,omitempty"`
}

// nicUpdate is the updateNetworkInterface body. The method has PATCH
// semantics: an absent aliasIpRanges leaves the ranges alone, so the list
// is always sent, empty when the last range goes.
type nicUpdate struct {
	Fingerprint   string     `json:"fingerprint"`
	AliasIPRanges []gceAlias `json:"aliasIpRanges"`
}

// aliasPrefix parses an ipCidrRange ("10.0.0.5/32" or "10.0.0.5").
func aliasPrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(ip, ip.BitLen()), true
	}
	return netip.Prefix{}, false
}

func (n *gceNIC) holds(p netip.Prefix) bool {
	for _, r := range n.AliasIPRanges {
		if q, ok := aliasPrefix(r.IPCidrRange); ok && q == p {
			return true
		}
	}
	return false
}

func (a *AliasIP) wanted(ev Event) []netip.Prefix {
	if len(a.cfg.Ranges) > 0 {
		return a.cfg.Ranges
	}
	out := make([]netip.Prefix, 0, len(ev.VIPs))
	for _, v := range ev.VIPs {
		out = append(out, netip.PrefixFrom(v.Addr(), v.Addr().BitLen()))
	}
	return out
}

func (a *AliasIP) ensure(ctx context.Context, ev Event, log *slog.Logger) (bool, string, error) {
	want := a.wanted(ev)
	detail := joinPrefixes(want) + " -> " + a.cfg.Instance + "/" + a.cfg.NIC
	if len(want) == 0 {
		return false, detail, errors.New("no alias IP range to hold (no --vip and no --gcp-alias-ip range)")
	}
	r := &caller{p: a.cfg.Retry, log: log, ev: ev}
	me, err := a.get(ctx, r, a.cfg.Zone, a.cfg.Instance)
	if err != nil {
		return false, detail, err
	}
	nic, err := a.ourNIC(me)
	if err != nil {
		return false, detail, err
	}
	var missing []netip.Prefix
	for _, p := range want {
		if !nic.holds(p) {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return false, detail, nil
	}
	if !ev.Leading() {
		return false, detail, fmt.Errorf("%s not on this instance: %w", joinPrefixes(missing), ErrNotLeader)
	}
	if err := a.release(ctx, r, missing); err != nil {
		return true, detail, err
	}
	log.Info("adding alias IP ranges", "ranges", joinPrefixes(missing), "instance", a.cfg.Instance, "nic", a.cfg.NIC)
	if err := a.update(ctx, r, a.cfg.Zone, a.cfg.Instance, a.cfg.NIC, func(n *gceNIC) []gceAlias {
		out := append([]gceAlias(nil), n.AliasIPRanges...)
		for _, p := range missing {
			if !n.holds(p) {
				out = append(out, gceAlias{IPCidrRange: p.String(), SubnetworkRangeName: a.cfg.SubnetRange})
			}
		}
		return out
	}); err != nil {
		return true, detail, err
	}
	return true, detail, a.verify(ctx, r, want)
}

func (a *AliasIP) ourNIC(in *gceInstance) (*gceNIC, error) {
	for i := range in.NetworkInterfaces {
		if in.NetworkInterfaces[i].Name == a.cfg.NIC {
			return &in.NetworkInterfaces[i], nil
		}
	}
	return nil, fmt.Errorf("instance %s has no network interface %s", a.cfg.Instance, a.cfg.NIC)
}

// release removes ranges from every other instance's interface on the
// network that holds one. A stopped (TERMINATED) owner still holds its
// ranges and is updated the same way; when the removal fails the range
// stays there and the error says so (adding it here would fail anyway:
// a range is held by one interface of a network at a time).
func (a *AliasIP) release(ctx context.Context, r *caller, ranges []netip.Prefix) error {
	owners, err := a.owners(ctx, r, ranges)
	if err != nil {
		return err
	}
	for _, o := range owners {
		zone := lastSegment(o.inst.Zone)
		r.log.Info("removing alias IP ranges from their old owner", "owner", o.inst.Name, "zone", zone, "status", o.inst.Status, "nic", o.nic)
		err := a.update(ctx, r, zone, o.inst.Name, o.nic, func(n *gceNIC) []gceAlias {
			out := []gceAlias{}
			for _, al := range n.AliasIPRanges {
				if p, ok := aliasPrefix(al.IPCidrRange); !ok || !containsPrefix(ranges, p) {
					out = append(out, al)
				}
			}
			return out
		})
		if err != nil {
			return fmt.Errorf("old owner %s (zone %s, %s) still holds the range; not claiming it here: %w", o.inst.Name, zone, o.inst.Status, err)
		}
	}
	return nil
}

type aliasOwner struct {
	inst gceInstance
	nic  string
}

// owners lists the project's instances (every zone) and returns the other
// instances' interfaces on the network that hold one of ranges.
func (a *AliasIP) owners(ctx context.Context, r *caller, ranges []netip.Prefix) ([]aliasOwner, error) {
	var out []aliasOwner
	token := ""
	for {
		var page struct {
			Items map[string]struct {
				Instances []gceInstance `json:"instances"`
			} `json:"items"`
			NextPageToken string `json:"nextPageToken"`
		}
		q := url.Values{"maxResults": {"500"}}
		if token != "" {
			q.Set("pageToken", token)
		}
		if err := r.call(ctx, false, "aggregated list instances", func(ctx context.Context) error {
			return a.c.do(ctx, http.MethodGet, "aggregated/instances", q, nil, &page)
		}); err != nil {
			return nil, err
		}
		for _, scope := range page.Items {
			for _, in := range scope.Instances {
				if in.Name == a.cfg.Instance && lastSegment(in.Zone) == a.cfg.Zone {
					continue
				}
				for _, n := range in.NetworkInterfaces {
					if lastSegment(n.Network) != a.cfg.Network {
						continue
					}
					for _, p := range ranges {
						if n.holds(p) {
							out = append(out, aliasOwner{inst: in, nic: n.Name})
							break
						}
					}
				}
			}
		}
		if page.NextPageToken == "" {
			return out, nil
		}
		token = page.NextPageToken
	}
}

// update rewrites the alias ranges of instance's interface nic to
// ranges(current interface), with the fingerprint just read. A stale
// fingerprint (HTTP 412: someone changed the interface between the read
// and the write) means read again and recompute, within the retry budget.
func (a *AliasIP) update(ctx context.Context, r *caller, zone, instance, nic string, ranges func(*gceNIC) []gceAlias) error {
	var err error
	for attempt := 1; attempt <= r.p.Tries; attempt++ {
		in, gerr := a.get(ctx, r, zone, instance)
		if gerr != nil {
			return gerr
		}
		var cur *gceNIC
		for i := range in.NetworkInterfaces {
			if in.NetworkInterfaces[i].Name == nic {
				cur = &in.NetworkInterfaces[i]
			}
		}
		if cur == nil {
			return fmt.Errorf("instance %s has no network interface %s", instance, nic)
		}
		body := nicUpdate{Fingerprint: cur.Fingerprint, AliasIPRanges: ranges(cur)}
		op := &operation{}
		path := "zones/" + url.PathEscape(zone) + "/instances/" + url.PathEscape(instance) + "/updateNetworkInterface"
		err = r.call(ctx, true, "update "+instance+"/"+nic, func(ctx context.Context) error {
			return a.c.do(ctx, http.MethodPatch, path, url.Values{"networkInterface": {nic}}, body, op)
		})
		if apiStatus(err) == http.StatusPreconditionFailed {
			r.log.Warn("interface changed under us (stale fingerprint); reading it again", "instance", instance, "nic", nic, "attempt", attempt)
			continue
		}
		if err != nil {
			return err
		}
		if op.Zone == "" {
			op.Zone = zone
		}
		return a.c.waitOp(ctx, r, op)
	}
	return fmt.Errorf("update %s/%s: fingerprint still stale after %d tries: %w", instance, nic, r.p.Tries, err)
}

func (a *AliasIP) get(ctx context.Context, r *caller, zone, instance string) (*gceInstance, error) {
	in := &gceInstance{}
	err := r.call(ctx, false, "get instance "+instance, func(ctx context.Context) error {
		return a.c.do(ctx, http.MethodGet, "zones/"+url.PathEscape(zone)+"/instances/"+url.PathEscape(instance), nil, nil, in)
	})
	return in, err
}

// verify reads this instance back until its interface holds every range.
func (a *AliasIP) verify(ctx context.Context, r *caller, want []netip.Prefix) error {
	for i := 1; ; i++ {
		in, err := a.get(ctx, r, a.cfg.Zone, a.cfg.Instance)
		if err == nil {
			var nic *gceNIC
			if nic, err = a.ourNIC(in); err == nil {
				var lack []netip.Prefix
				for _, p := range want {
					if !nic.holds(p) {
						lack = append(lack, p)
					}
				}
				if len(lack) == 0 {
					return nil
				}
				err = fmt.Errorf("%s not on %s/%s after the change", joinPrefixes(lack), a.cfg.Instance, a.cfg.NIC)
			}
		}
		if i >= r.p.CheckTries {
			return err
		}
		if serr := cloud.Sleep(ctx, r.p.CheckInterval); serr != nil {
			return serr
		}
	}
}

func containsPrefix(xs []netip.Prefix, p netip.Prefix) bool {
	for _, x := range xs {
		if x == p {
			return true
		}
	}
	return false
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

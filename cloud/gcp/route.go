package gcp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/lbhc/lbhc/cloud"
)

// RouteActionName is the gcp-route action's name in logs, metrics and
// /status.
const RouteActionName = "gcp-route"

// selfLinkBase is how Compute Engine spells resource URLs in request and
// answer bodies, whatever endpoint served the call.
const selfLinkBase = "https://www.googleapis.com/compute/v1/"

// RouteConfig configures the gcp-route action.
type RouteConfig struct {
	Group    string // the lease name: routes of one group replace each other
	NodeID   string
	Network  string // VPC network name (the last segment of its URL)
	Zone     string // this instance's zone
	Instance string // this instance's name: the routes' next hop
	// Priority of the routes (0..65535, lower wins); 0 = 1000, the
	// Compute Engine default.
	Priority int
	Retry    Retry
}

// Route points a static route VIP/32 (VIP/128) of one VPC network at this
// instance (Pacemaker gcp-vpc-move-route). Routes are immutable, so a
// failover creates this node's route first and then deletes the group's
// other routes for the same destination: traffic never lacks a route. A
// route for the destination that lbhc did not create is never touched.
type Route struct {
	cfg RouteConfig
	c   *Compute
	log *slog.Logger
	m   *Metrics
	st  *cloud.StatusBox
}

// NewRoute returns the gcp-route action; it makes no network call.
func NewRoute(cfg RouteConfig, c *Compute, log *slog.Logger, m *Metrics) (*Route, error) {
	switch {
	case cfg.Group == "" || cfg.NodeID == "":
		return nil, errors.New("gcp-route: group and node id are required")
	case cfg.Network == "" || cfg.Zone == "" || cfg.Instance == "" || c.Project == "":
		return nil, errors.New("gcp-route: project, network, zone and instance are required")
	case cfg.Priority < 0 || cfg.Priority > 65535:
		return nil, fmt.Errorf("gcp-route: priority %d outside 0..65535", cfg.Priority)
	}
	if cfg.Priority == 0 {
		cfg.Priority = 1000
	}
	cfg.Retry = cfg.Retry.withDefaults()
	m.Init(RouteActionName)
	return &Route{cfg: cfg, c: c, log: log.With("action", RouteActionName), m: m, st: cloud.NewStatusBox(RouteActionName)}, nil
}

// RouteName is the route of node for vip in group: "lbhc-", the group
// reduced to Compute Engine's name alphabet (at most 30 characters), "-"
// and 12 hex digits of a hash of group, node and VIP. It matches
// [a-z]([-a-z0-9]*[a-z0-9])? and has at most 48 characters.
func RouteName(group, node string, vip netip.Prefix) string {
	h := sha256.Sum256([]byte(group + "\x00" + node + "\x00" + vip.Masked().String()))
	return routePrefix(group) + hex.EncodeToString(h[:6])
}

// routePrefix is the part of RouteName shared by a group's routes.
func routePrefix(group string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(group) {
		if b.Len() == 30 {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return "lbhc-" + strings.Trim(b.String(), "-") + "-"
}

// description marks a route as this group's: a route is lbhc's only when
// both its name prefix and its description say so.
func (a *Route) description() string {
	return "lbhc group=" + strconv.Quote(a.cfg.Group) + " node=" + strconv.Quote(a.cfg.NodeID)
}

func (a *Route) ours(r *gceRoute) bool {
	return strings.HasPrefix(r.Name, routePrefix(a.cfg.Group)) &&
		strings.HasPrefix(r.Description, "lbhc group="+strconv.Quote(a.cfg.Group)+" ")
}

func (a *Route) hop() string {
	return "projects/" + a.c.Project + "/zones/" + a.cfg.Zone + "/instances/" + a.cfg.Instance
}

func (a *Route) networkLink() string {
	return selfLinkBase + "projects/" + a.c.Project + "/global/networks/" + a.cfg.Network
}

// gceRoute is the part of a Route resource read and written here.
type gceRoute struct {
	Name            string `json:"name"`
	Description     string `json:"description,omitempty"`
	Network         string `json:"network"`
	DestRange       string `json:"destRange"`
	Priority        int    `json:"priority"`
	NextHopInstance string `json:"nextHopInstance,omitempty"`
}

// Name implements Action.
func (a *Route) Name() string { return RouteActionName }

// Status implements Action.
func (a *Route) Status() Status { return a.st.Get() }

func (a *Route) shell() cloud.Shell {
	return cloud.Shell{Name: RouteActionName, What: "GCP route", Prefix: "gcp-route " + a.cfg.Network, Log: a.log, M: a.m, St: a.st}
}

// Promote implements Action.
func (a *Route) Promote(ctx context.Context, ev Event) error {
	return a.shell().Promote(ctx, ev, a.ensure)
}

// Monitor implements Action.
func (a *Route) Monitor(ctx context.Context, ev Event) (bool, error) {
	return a.shell().Monitor(ctx, ev, a.ensure)
}

// Demote implements Action: the next leader creates its route and deletes
// this one.
func (a *Route) Demote(ctx context.Context, ev Event) error { return a.shell().Demote() }

func (a *Route) ensure(ctx context.Context, ev Event, log *slog.Logger) (bool, string, error) {
	if len(ev.VIPs) == 0 {
		return false, "", errors.New("no VIP to route")
	}
	r := &caller{p: a.cfg.Retry, log: log, ev: ev}
	changed := false
	var names []string
	for _, vip := range ev.VIPs {
		name := RouteName(a.cfg.Group, a.cfg.NodeID, vip)
		names = append(names, vip.Masked().String()+" -> "+name)
		ch, err := a.ensureOne(ctx, r, vip.Masked(), name)
		changed = changed || ch
		if err != nil {
			return changed, strings.Join(names, ", "), fmt.Errorf("%s: %w", vip, err)
		}
	}
	return changed, strings.Join(names, ", ") + " via " + a.cfg.Instance, nil
}

// ensureOne makes route name (destination dest, next hop this instance)
// the only lbhc route of the group for dest in the network.
func (a *Route) ensureOne(ctx context.Context, r *caller, dest netip.Prefix, name string) (bool, error) {
	routes, err := a.list(ctx, r, dest)
	if err != nil {
		return false, err
	}
	var mine *gceRoute
	var stale []string
	for i := range routes {
		rt := &routes[i]
		switch {
		case !a.ours(rt):
			return false, fmt.Errorf("route %q for %s in network %s was not created by lbhc group %q; refusing to route around it (delete it or use another VIP)",
				rt.Name, dest, a.cfg.Network, a.cfg.Group)
		case rt.Name == name && resourcePath(rt.NextHopInstance) == a.hop():
			mine = rt
		default:
			// Another node's route, or ours with a stale next hop (this
			// node's instance was recreated elsewhere).
			stale = append(stale, rt.Name)
		}
	}
	changed := false
	if mine == nil {
		if i := indexOf(stale, name); i >= 0 {
			// Same name, wrong next hop: the name must be freed first.
			if err := a.delete(ctx, r, name); err != nil {
				return false, err
			}
			stale = append(stale[:i], stale[i+1:]...)
		}
		r.log.Info("creating route", "route", name, "dest", dest, "next_hop", a.cfg.Instance, "replacing", stale)
		if err := a.insert(ctx, r, dest, name); err != nil {
			return true, err
		}
		changed = true
	}
	// Only after ours is DONE: the old routes go.
	for _, s := range stale {
		r.log.Info("deleting the group's old route", "route", s, "dest", dest)
		if err := a.delete(ctx, r, s); err != nil {
			return true, err
		}
		changed = true
	}
	return changed, a.verify(ctx, r, dest, name)
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

// list returns the project's routes in the network with destination dest.
// Filtering happens here, not in a server-side filter expression, so no
// route can hide from the ownership check behind a filter's semantics.
func (a *Route) list(ctx context.Context, r *caller, dest netip.Prefix) ([]gceRoute, error) {
	var out []gceRoute
	token := ""
	for {
		var page struct {
			Items         []gceRoute `json:"items"`
			NextPageToken string     `json:"nextPageToken"`
		}
		q := url.Values{"maxResults": {"500"}}
		if token != "" {
			q.Set("pageToken", token)
		}
		if err := r.call(ctx, false, "list routes", func(ctx context.Context) error {
			return a.c.do(ctx, http.MethodGet, "global/routes", q, nil, &page)
		}); err != nil {
			return nil, err
		}
		for _, rt := range page.Items {
			d, err := netip.ParsePrefix(rt.DestRange)
			if err == nil && d.Masked() == dest && lastSegment(rt.Network) == a.cfg.Network {
				out = append(out, rt)
			}
		}
		if page.NextPageToken == "" {
			return out, nil
		}
		token = page.NextPageToken
	}
}

func (a *Route) insert(ctx context.Context, r *caller, dest netip.Prefix, name string) error {
	body := gceRoute{Name: name, Description: a.description(), Network: a.networkLink(), DestRange: dest.String(),
		Priority: a.cfg.Priority, NextHopInstance: selfLinkBase + a.hop()}
	op := &operation{}
	err := r.call(ctx, true, "insert route "+name, func(ctx context.Context) error {
		return a.c.do(ctx, http.MethodPost, "global/routes", nil, body, op)
	})
	if apiStatus(err) == http.StatusConflict {
		// An earlier attempt whose answer was lost created it; verify
		// decides whether it is right.
		return nil
	}
	if err != nil {
		return err
	}
	return a.c.waitOp(ctx, r, op)
}

func (a *Route) delete(ctx context.Context, r *caller, name string) error {
	op := &operation{}
	err := r.call(ctx, true, "delete route "+name, func(ctx context.Context) error {
		return a.c.do(ctx, http.MethodDelete, "global/routes/"+url.PathEscape(name), nil, nil, op)
	})
	if apiStatus(err) == http.StatusNotFound {
		return nil // gone already
	}
	if err != nil {
		return err
	}
	return a.c.waitOp(ctx, r, op)
}

// verify reads route name back until it exists pointing at this instance.
func (a *Route) verify(ctx context.Context, r *caller, dest netip.Prefix, name string) error {
	var err error
	for i := 1; ; i++ {
		var rt gceRoute
		err = r.call(ctx, false, "get route "+name, func(ctx context.Context) error {
			return a.c.do(ctx, http.MethodGet, "global/routes/"+url.PathEscape(name), nil, nil, &rt)
		})
		if err == nil {
			if resourcePath(rt.NextHopInstance) == a.hop() && rt.DestRange == dest.String() && lastSegment(rt.Network) == a.cfg.Network {
				return nil
			}
			err = fmt.Errorf("route %s reads back as %s via %q in %q", name, rt.DestRange, rt.NextHopInstance, lastSegment(rt.Network))
		}
		if i >= r.p.CheckTries {
			return err
		}
		if serr := cloud.Sleep(ctx, r.p.CheckInterval); serr != nil {
			return serr
		}
	}
}

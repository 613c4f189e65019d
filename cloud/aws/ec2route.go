package aws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/lbhc/lbhc/cloud"
)

// EC2RouteAPI is the part of EC2 the ec2-route action uses (*EC2Client).
type EC2RouteAPI interface {
	DescribeRouteTables(ctx context.Context, in *ec2.DescribeRouteTablesInput, opts ...func(*ec2.Options)) (*ec2.DescribeRouteTablesOutput, error)
	ReplaceRoute(ctx context.Context, in *ec2.ReplaceRouteInput, opts ...func(*ec2.Options)) (*ec2.ReplaceRouteOutput, error)
	CreateRoute(ctx context.Context, in *ec2.CreateRouteInput, opts ...func(*ec2.Options)) (*ec2.CreateRouteOutput, error)
	DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, opts ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error)
	ModifyNetworkInterfaceAttribute(ctx context.Context, in *ec2.ModifyNetworkInterfaceAttributeInput, opts ...func(*ec2.Options)) (*ec2.ModifyNetworkInterfaceAttributeOutput, error)
}

// EC2RouteConfig configures the ec2-route action.
type EC2RouteConfig struct {
	// RouteTables lists the tables to rewrite. Empty: discover the tables of
	// VPCID that hold a route for a VIP. Either way only tables of VPCID are
	// ever written (LifeKeeper's EC2 kit rewrote other VPCs' tables that held
	// the same VIP; a route there cannot target our ENI anyway).
	RouteTables []string
	VPCID       string // this node's VPC; "" = the VPC of ENIID
	ENIID       string // this node's network interface: the routes' target
	// CreateRoute allows creating a missing VIP route instead of failing.
	CreateRoute bool
	// DisableSourceDestCheck turns off the ENI's source/destination check,
	// which must be off for the ENI to receive packets for the VIP.
	DisableSourceDestCheck bool

	Retry         AWSRetry
	CheckInterval time.Duration // read-back after a change: CheckTries reads, CheckInterval apart
	CheckTries    int
}

// EC2Route points the VIP/32 (or /128) routes of VPC route tables at this
// node's ENI: the overlay-IP / Transit Gateway setup where the VIP lies
// outside the VPC CIDR (LifeKeeper EC2 kit, Pacemaker aws-vpc-move-ip).
type EC2Route struct {
	cfg    EC2RouteConfig
	client EC2RouteAPI
	log    *slog.Logger
	m      *cloud.Metrics
	st     *cloud.StatusBox
	// known are tables found by discovery in earlier passes: a route that
	// someone deleted no longer matches the discovery filter, but its table
	// still needs repair.
	known []string
}

// NewEC2Route returns the ec2-route action; zero fields of cfg get defaults.
func NewEC2Route(cfg EC2RouteConfig, client EC2RouteAPI, log *slog.Logger, m *cloud.Metrics) *EC2Route {
	actionDefaults(&cfg.Retry, &cfg.CheckInterval, &cfg.CheckTries)
	m.Init("ec2-route")
	return &EC2Route{cfg: cfg, client: client, log: log.With("action", "ec2-route"), m: m, st: cloud.NewStatusBox("ec2-route")}
}

// Name implements Action.
func (a *EC2Route) Name() string { return "ec2-route" }

// Status implements Action.
func (a *EC2Route) Status() cloud.Status { return a.st.Get() }

func (a *EC2Route) shell() cloud.Shell {
	return cloud.Shell{Name: "ec2-route", What: "ec2 routes", Prefix: "ec2-route", Log: a.log, M: a.m, St: a.st}
}

// Promote implements Action.
func (a *EC2Route) Promote(ctx context.Context, ev cloud.Event) error {
	return a.shell().Promote(ctx, ev, a.ensure)
}

// Monitor implements Action.
func (a *EC2Route) Monitor(ctx context.Context, ev cloud.Event) (bool, error) {
	return a.shell().Monitor(ctx, ev, a.ensure)
}

// Demote implements Action: the next leader replaces the routes.
func (a *EC2Route) Demote(ctx context.Context, ev cloud.Event) error { return a.shell().Demote() }

// ec2RouteFix is one route that does not point at our ENI.
type ec2RouteFix struct {
	table  string
	dest   netip.Prefix
	create bool // the route is missing
	was    string
}

func (a *EC2Route) ensure(ctx context.Context, ev cloud.Event, log *slog.Logger) (changed bool, detail string, err error) {
	dests := hostPrefixes(ev.VIPs)
	if len(dests) == 0 {
		return false, "", errors.New("no VIPs to route")
	}
	if a.cfg.ENIID == "" {
		return false, "", errors.New("no network interface id (set --aws-eni-id or run on EC2)")
	}
	vpc := a.cfg.VPCID
	if a.cfg.DisableSourceDestCheck || vpc == "" {
		eni, err := a.describeENI(ctx, ev, log)
		if err != nil {
			return false, "", err
		}
		if vpc == "" {
			vpc = aws.ToString(eni.VpcId)
		}
		if a.cfg.DisableSourceDestCheck && aws.ToBool(eni.SourceDestCheck) {
			log.Info("disabling source/destination check", "eni", a.cfg.ENIID)
			err := awsCall(ctx, a.cfg.Retry, log, ev, true, "ModifyNetworkInterfaceAttribute", func(ctx context.Context) error {
				_, err := a.client.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{
					NetworkInterfaceId: aws.String(a.cfg.ENIID),
					SourceDestCheck:    &ec2types.AttributeBooleanValue{Value: aws.Bool(false)},
				})
				return err
			})
			if err != nil {
				return false, "", err
			}
			changed = true
		}
	}
	tables, err := a.tables(ctx, ev, log, vpc, dests)
	if err != nil {
		return changed, "", err
	}
	ids := tableIDs(tables)
	detail = fmt.Sprintf("%s -> %s in %s", prefixList(dests), a.cfg.ENIID, awsJoin(ids))
	fixes, err := ec2Plan(tables, dests, a.cfg.ENIID, a.cfg.CreateRoute)
	if err != nil {
		return changed, detail, err
	}
	if len(fixes) == 0 {
		return changed, detail, nil
	}
	if !ev.Leading() {
		return changed, detail, fmt.Errorf("%d routes to fix: %w", len(fixes), cloud.ErrNotLeader)
	}
	var errs []error
	for _, f := range fixes {
		log.Info("pointing route at this node", "table", f.table, "destination", f.dest, "was", f.was, "eni", a.cfg.ENIID)
		if err := a.apply(ctx, ev, log, f); err != nil {
			if errors.Is(err, cloud.ErrNotLeader) {
				return true, detail, err
			}
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return true, detail, err
	}
	// Read every table back; EC2 is eventually consistent.
	for i := 1; ; i++ {
		tables, err = a.describe(ctx, ev, log, &ec2.DescribeRouteTablesInput{RouteTableIds: ids})
		if err == nil {
			fixes, err = ec2Plan(tables, dests, a.cfg.ENIID, true)
			if err == nil && len(fixes) == 0 {
				return true, detail, nil
			}
			if err == nil {
				err = fmt.Errorf("route %s in %s still targets %s after the change", fixes[0].dest, fixes[0].table, fixes[0].was)
			}
		}
		if i >= a.cfg.CheckTries {
			return true, detail, err
		}
		if err := cloud.Sleep(ctx, a.cfg.CheckInterval); err != nil {
			return true, detail, err
		}
	}
}

func (a *EC2Route) apply(ctx context.Context, ev cloud.Event, log *slog.Logger, f ec2RouteFix) error {
	if f.create {
		err := awsCall(ctx, a.cfg.Retry, log, ev, true, "CreateRoute "+f.table, func(ctx context.Context) error {
			in := &ec2.CreateRouteInput{RouteTableId: aws.String(f.table), NetworkInterfaceId: aws.String(a.cfg.ENIID)}
			if f.dest.Addr().Is4() {
				in.DestinationCidrBlock = aws.String(f.dest.String())
			} else {
				in.DestinationIpv6CidrBlock = aws.String(f.dest.String())
			}
			_, err := a.client.CreateRoute(ctx, in)
			return err
		})
		// An earlier attempt may have landed although its response was
		// lost, or someone else created the route meanwhile: replace it.
		if awsErrCode(err) != "RouteAlreadyExists" {
			return err
		}
	}
	return awsCall(ctx, a.cfg.Retry, log, ev, true, "ReplaceRoute "+f.table, func(ctx context.Context) error {
		in := &ec2.ReplaceRouteInput{RouteTableId: aws.String(f.table), NetworkInterfaceId: aws.String(a.cfg.ENIID)}
		if f.dest.Addr().Is4() {
			in.DestinationCidrBlock = aws.String(f.dest.String())
		} else {
			in.DestinationIpv6CidrBlock = aws.String(f.dest.String())
		}
		_, err := a.client.ReplaceRoute(ctx, in)
		return err
	})
}

func (a *EC2Route) describeENI(ctx context.Context, ev cloud.Event, log *slog.Logger) (*ec2types.NetworkInterface, error) {
	var eni *ec2types.NetworkInterface
	err := awsCall(ctx, a.cfg.Retry, log, ev, false, "DescribeNetworkInterfaces", func(ctx context.Context) error {
		out, err := a.client.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{a.cfg.ENIID}})
		if err != nil {
			return err
		}
		if len(out.NetworkInterfaces) != 1 {
			return fmt.Errorf("network interface %s: %d results", a.cfg.ENIID, len(out.NetworkInterfaces))
		}
		eni = &out.NetworkInterfaces[0]
		return nil
	})
	return eni, err
}

// tables returns the route tables to manage, all in vpc.
func (a *EC2Route) tables(ctx context.Context, ev cloud.Event, log *slog.Logger, vpc string, dests []netip.Prefix) ([]ec2types.RouteTable, error) {
	if len(a.cfg.RouteTables) > 0 {
		tables, err := a.describe(ctx, ev, log, &ec2.DescribeRouteTablesInput{RouteTableIds: a.cfg.RouteTables})
		if err != nil {
			return nil, err
		}
		for _, t := range tables {
			if aws.ToString(t.VpcId) != vpc {
				return nil, fmt.Errorf("route table %s belongs to %s, not this node's VPC %s", aws.ToString(t.RouteTableId), aws.ToString(t.VpcId), vpc)
			}
		}
		return tables, nil
	}
	if vpc == "" {
		return nil, errors.New("no VPC id to discover route tables in (set --aws-vpc-id or --ec2-route-table)")
	}
	ids := slices.Clone(a.known)
	var v4, v6 []string
	for _, d := range dests {
		if d.Addr().Is4() {
			v4 = append(v4, d.String())
		} else {
			v6 = append(v6, d.String())
		}
	}
	// Two filters in one request are ANDed: tables of our VPC holding a
	// route for one of the VIPs.
	for _, q := range []struct {
		filter string
		cidrs  []string
	}{{"route.destination-cidr-block", v4}, {"route.destination-ipv6-cidr-block", v6}} {
		if len(q.cidrs) == 0 {
			continue
		}
		found, err := a.describe(ctx, ev, log, &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
			{Name: aws.String("vpc-id"), Values: []string{vpc}},
			{Name: aws.String(q.filter), Values: q.cidrs},
		}})
		if err != nil {
			return nil, err
		}
		for _, t := range found {
			// Belt and braces: never trust a filter alone with another VPC.
			if id := aws.ToString(t.RouteTableId); aws.ToString(t.VpcId) == vpc && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("no route table in %s has a route for %s (name tables with --ec2-route-table, and --ec2-create-route to create the route)", vpc, prefixList(dests))
	}
	slices.Sort(ids)
	a.known = ids
	tables, err := a.describe(ctx, ev, log, &ec2.DescribeRouteTablesInput{RouteTableIds: ids})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(tables, func(t ec2types.RouteTable) bool { return aws.ToString(t.VpcId) != vpc }), nil
}

// describe runs DescribeRouteTables through all pages.
func (a *EC2Route) describe(ctx context.Context, ev cloud.Event, log *slog.Logger, in *ec2.DescribeRouteTablesInput) ([]ec2types.RouteTable, error) {
	var all []ec2types.RouteTable
	for page := 0; page < 100; page++ { // 100 pages of up to 1000 tables: a bound, not a limit anyone meets
		var out *ec2.DescribeRouteTablesOutput
		err := awsCall(ctx, a.cfg.Retry, log, ev, false, "DescribeRouteTables", func(ctx context.Context) error {
			var err error
			out, err = a.client.DescribeRouteTables(ctx, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		all = append(all, out.RouteTables...)
		if aws.ToString(out.NextToken) == "" {
			return all, nil
		}
		next := *in
		next.NextToken = out.NextToken
		in = &next
	}
	return nil, errors.New("DescribeRouteTables: too many pages")
}

// ec2Plan lists the routes of tables that do not target eni. A missing
// route is an error unless create is set.
func ec2Plan(tables []ec2types.RouteTable, dests []netip.Prefix, eni string, create bool) ([]ec2RouteFix, error) {
	var fixes []ec2RouteFix
	var errs []error
	for _, t := range tables {
		id := aws.ToString(t.RouteTableId)
		for _, d := range dests {
			r := findRoute(t.Routes, d)
			switch {
			case r == nil && !create:
				errs = append(errs, fmt.Errorf("route table %s has no route for %s (allow creating it with --ec2-create-route)", id, d))
			case r == nil:
				fixes = append(fixes, ec2RouteFix{table: id, dest: d, create: true, was: "(absent)"})
			case aws.ToString(r.NetworkInterfaceId) != eni || r.State == ec2types.RouteStateBlackhole:
				fixes = append(fixes, ec2RouteFix{table: id, dest: d, was: routeTarget(r)})
			}
		}
	}
	return fixes, errors.Join(errs...)
}

func findRoute(routes []ec2types.Route, d netip.Prefix) *ec2types.Route {
	for i := range routes {
		r := &routes[i]
		s := aws.ToString(r.DestinationCidrBlock)
		if !d.Addr().Is4() {
			s = aws.ToString(r.DestinationIpv6CidrBlock)
		}
		if p, err := netip.ParsePrefix(s); err == nil && p.Masked() == d {
			return r
		}
	}
	return nil
}

// routeTarget names what a route points at, for logs.
func routeTarget(r *ec2types.Route) string {
	for _, s := range []*string{r.NetworkInterfaceId, r.InstanceId, r.TransitGatewayId, r.GatewayId, r.NatGatewayId, r.VpcPeeringConnectionId} {
		if v := aws.ToString(s); v != "" {
			if r.State == ec2types.RouteStateBlackhole {
				return v + " (blackhole)"
			}
			return v
		}
	}
	return "(no target, " + string(r.State) + ")"
}

// hostPrefixes turns VIPs into deduplicated /32 or /128 routes: the route
// moves one address, whatever mask the VIP has on the interface.
func hostPrefixes(vips []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, v := range vips {
		a := v.Addr().Unmap()
		p := netip.PrefixFrom(a, a.BitLen())
		if a.IsValid() && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func prefixList(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return awsJoin(s)
}

func tableIDs(ts []ec2types.RouteTable) []string {
	ids := make([]string, 0, len(ts))
	for _, t := range ts {
		ids = append(ids, aws.ToString(t.RouteTableId))
	}
	return ids
}

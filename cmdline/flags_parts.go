package cmdline

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/agent"
	"github.com/lbhc/lbhc/check"
	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/vip"
)

// extraRunFlags are the run flags of the optional parts: application
// checks, VIPs, cloud actions, hooks and the cloud lease backends.
func extraRunFlags() []cli.Flag {
	var out []cli.Flag
	out = append(out, checkFlags()...)
	out = append(out, vipFlags()...)
	out = append(out, vipEventFlags()...)
	out = append(out, awsFlags()...)
	out = append(out, azureRouteFlags()...)
	out = append(out, hookFlags()...)
	out = append(out, azureLeaseFlags()...)
	out = append(out, dynamodbFlags()...)
	out = append(out, etcdFlags()...)
	out = append(out, eventFlags()...)
	return out
}

// extraParts are the optional parts built from flags. Any of them may be
// empty.
type extraParts struct {
	vips      []netip.Prefix
	addrs     agent.Addresses
	reconcile time.Duration
	actions   []cloud.Action
	health    agent.Health
	platform  agent.PlatformWatcher // nil without --azure-scheduled-events / --aws-instance-events
	link      agent.LinkWatcher     // VIP interface link, with linkGrace > 0
	linkGrace time.Duration
	vipIface  string
	closers   []func() error
}

func (p *extraParts) close() {
	for _, f := range p.closers {
		_ = f()
	}
}

// buildExtraParts validates the optional parts' flags and builds them. It
// changes nothing on the system: VIP preflight and cleanup happen in the
// agent's start-up.
func buildExtraParts(ctx context.Context, c *cli.Context, log *slog.Logger, reg prometheus.Registerer, timing election.Config) (*extraParts, error) {
	p := &extraParts{}
	checks, ccfg, err := checkConfig(c)
	if err != nil {
		return nil, err
	}
	if len(checks) > 0 {
		p.health = check.NewMonitor(checks, ccfg, log.With("part", "check"), reg)
	}
	// Before any part that may read instance metadata: bad input changes
	// nothing and makes no request.
	if p.platform, err = platformWatcher(c, log.With("part", "platform")); err != nil {
		return nil, err
	}
	vcfg, withVIPs, err := vipConfig(c)
	if err != nil {
		return nil, err
	}
	if p.linkGrace, err = vipEventSettings(c, &vcfg, withVIPs); err != nil {
		return nil, err
	}
	if withVIPs {
		m, err := vip.New(vcfg, log.With("part", "vip"), reg)
		if err != nil {
			return nil, err
		}
		p.vips, p.addrs, p.reconcile = vcfg.Addrs, m, vcfg.ReconcileInterval
		if p.linkGrace > 0 {
			p.link, p.vipIface = m, vcfg.Interface
		}
		p.closers = append(p.closers, m.Close)
	}
	metrics := cloud.NewMetrics(reg)
	aws, err := awsActions(ctx, c, log.With("part", "cloud"), metrics)
	if err != nil {
		return nil, err
	}
	azure, err := azureActions(ctx, c, log.With("part", "cloud"), metrics)
	if err != nil {
		return nil, err
	}
	// Hooks run last on promote and first on demote (the agent demotes in
	// reverse order), after and before the cloud state they may rely on.
	hooks, err := hookActions(c, log.With("part", "hook"), metrics)
	if err != nil {
		return nil, err
	}
	p.actions = actionsOf(aws, azure, hooks)
	if !withVIPs {
		// Route actions route the VIPs: without one they would do nothing
		// and report success.
		for _, a := range p.actions {
			switch a.Name() {
			case "ec2-route", "azure-route":
				return nil, flagErr("vip", "required by the %s action (the routes point VIP/32 at this node)", a.Name())
			}
		}
	}
	return p, nil
}

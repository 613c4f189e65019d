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
	"github.com/lbhc/lbhc/cloud/azure"
	"github.com/lbhc/lbhc/peer"
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
	out = append(out, peerFlags()...)
	out = append(out, failsafeFlags()...)
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

// extraSettings are the optional parts' validated flags (phase 1 of run):
// everything the parts need from the command line, checked without I/O.
type extraSettings struct {
	checks    []check.Check
	checkCfg  check.Config
	platform  agent.PlatformWatcher // nil without --azure-scheduled-events / --aws-instance-events
	vip       vip.Config
	withVIPs  bool
	linkGrace time.Duration
	aws       awsSettings
	azure     azureSettings
	// peer is the peer channel's configuration (nil without --peer); its
	// Keys are filled in phase 2 by resolvePeerKeys.
	peer *peer.Config
}

// parseExtraParts validates every flag of the optional parts. It makes no
// request and changes nothing, so a typo exits 2 at once, even on a cloud
// VM whose metadata service is slow.
func parseExtraParts(c *cli.Context, log *slog.Logger) (*extraSettings, error) {
	s := &extraSettings{}
	var err error
	if s.checks, s.checkCfg, err = checkConfig(c); err != nil {
		return nil, err
	}
	if s.platform, err = platformWatcher(c, log.With("part", "platform")); err != nil {
		return nil, err
	}
	if s.vip, s.withVIPs, err = vipConfig(c); err != nil {
		return nil, err
	}
	if s.linkGrace, err = vipEventSettings(c, &s.vip, s.withVIPs); err != nil {
		return nil, err
	}
	if s.aws, err = awsParse(c); err != nil {
		return nil, err
	}
	if s.azure, err = azureParse(c); err != nil {
		return nil, err
	}
	if _, err := hookActions(c, log, nil); err != nil {
		return nil, err
	}
	if s.peer, err = parsePeerFlags(c); err != nil {
		return nil, err
	}
	if !s.withVIPs {
		// Route actions route the VIPs: without one they would do nothing
		// and report success.
		switch {
		case s.aws.ec2Route:
			return nil, flagErr("vip", "required by the %s action (the routes point VIP/32 at this node)", "ec2-route")
		case len(s.azure.tables) > 0:
			return nil, flagErr("vip", "required by the %s action (the routes point VIP/32 at this node)", azure.AzureRouteActionName)
		}
	}
	return s, nil
}

// buildExtraParts resolves what the flags leave open (instance metadata)
// and builds the optional parts from validated settings. It changes nothing
// on the system: VIP preflight and cleanup happen in the agent's start-up.
func buildExtraParts(ctx context.Context, c *cli.Context, s *extraSettings, log *slog.Logger, reg prometheus.Registerer) (*extraParts, error) {
	p := &extraParts{platform: s.platform, linkGrace: s.linkGrace}
	if len(s.checks) > 0 {
		p.health = check.NewMonitor(s.checks, s.checkCfg, log.With("part", "check"), reg)
	}
	if s.withVIPs {
		m, err := vip.New(s.vip, log.With("part", "vip"), reg)
		if err != nil {
			return nil, err
		}
		p.vips, p.addrs, p.reconcile = s.vip.Addrs, m, s.vip.ReconcileInterval
		if p.linkGrace > 0 {
			p.link, p.vipIface = m, s.vip.Interface
		}
		p.closers = append(p.closers, m.Close)
	}
	metrics := cloud.NewMetrics(reg)
	aws, err := awsActions(ctx, c, s.aws, log.With("part", "cloud"), metrics)
	if err != nil {
		p.close()
		return nil, err
	}
	azure, err := azureActions(ctx, c, s.azure, log.With("part", "cloud"), metrics)
	if err != nil {
		p.close()
		return nil, err
	}
	// Hooks run last on promote and first on demote (the agent demotes in
	// reverse order), after and before the cloud state they may rely on.
	hooks, err := hookActions(c, log.With("part", "hook"), metrics)
	if err != nil {
		p.close()
		return nil, err
	}
	p.actions = actionsOf(aws, azure, hooks)
	return p, nil
}

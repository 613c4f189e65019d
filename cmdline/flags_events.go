package cmdline

import (
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/agent"
	awscloud "github.com/lbhc/lbhc/cloud/aws"
	"github.com/lbhc/lbhc/cloud/azure"
	"github.com/lbhc/lbhc/vip"
)

// Platform notice defaults. Azure gives at least 30 s (Preempt) and AWS
// two minutes (spot) of warning; a poll every 2 s uses a small part of
// that and stays far below the metadata services' throttling (Azure IMDS:
// about 5 requests per second).
const (
	defaultNoticeInterval = 2 * time.Second
	minNoticeInterval     = 250 * time.Millisecond
)

// eventFlags are the flags of the platform-notice watchers (Azure Scheduled
// Events, AWS instance notices): a node about to be stopped hands over first.
func eventFlags() []cli.Flag {
	const cat = "Platform notices"
	return []cli.Flag{
		&cli.BoolFlag{Name: "azure-scheduled-events", Category: cat, EnvVars: envs("azure-scheduled-events"),
			Usage: "poll Azure Scheduled Events (at --azure-imds-endpoint): an event naming this VM makes a leader hand over and a " +
				"follower stand by until it is over; the event is acknowledged once a successor leads"},
		&cli.DurationFlag{Name: "azure-scheduled-events-interval", Category: cat, EnvVars: envs("azure-scheduled-events-interval"),
			Value: defaultNoticeInterval, Usage: "wait between two Scheduled Events polls (min 250ms)"},
		&cli.BoolFlag{Name: "aws-instance-events", Category: cat, EnvVars: envs("aws-instance-events"),
			Usage: "poll EC2 instance metadata (at --aws-imds-endpoint, IMDSv2) for the notices of --aws-instance-event-types: a leader " +
				"hands over, a follower stands by while one is published (AWS has no acknowledgement)"},
		&cli.StringSliceFlag{Name: "aws-instance-event-types", Category: cat, EnvVars: envs("aws-instance-event-types"),
			Value: cli.NewStringSlice(awscloud.AWSSpot, awscloud.AWSRebalance, awscloud.AWSMaintenance),
			Usage: "notices watched with --aws-instance-events: spot (interruption), rebalance (recommendation), maintenance (scheduled events)"},
		&cli.DurationFlag{Name: "aws-instance-events-interval", Category: cat, EnvVars: envs("aws-instance-events-interval"),
			Value: defaultNoticeInterval, Usage: "wait between two instance-notice polls (min 250ms)"},
	}
}

// vipEventFlags are the VIP flags that react to the network while leading
// (announcement refresh, link state), kept apart from the address flags in
// flags_vip.go.
func vipEventFlags() []cli.Flag {
	const cat = "Virtual IP"
	return []cli.Flag{
		&cli.DurationFlag{Name: "garp-refresh", Category: cat, EnvVars: envs("garp-refresh"),
			Usage: "while leading, repeat one gratuitous ARP / unsolicited neighbour advertisement round at this interval " +
				"(nic mode; for switches and neighbours that age entries out); 0 = off"},
		&cli.DurationFlag{Name: "vip-link-grace", Category: cat, EnvVars: envs("vip-link-grace"), Value: defaultLinkGrace,
			Usage: "nic mode, Linux: --vip-interface down or without carrier this long makes the leader hand over and the node " +
				"stay out until the link is back; 0 = do not watch the link"},
	}
}

// defaultLinkGrace rides out a switch port or hypervisor blip (a link
// renegotiation takes about a second) yet hands over well before a crash
// failover would.
const defaultLinkGrace = 2 * time.Second

// vipEventSettings adds the announcement refresh to cfg, has the vip
// package judge the whole VIP configuration now (before any look-up), and
// returns the link grace (0 = the link is not watched: off, no VIP or
// loopback mode).
func vipEventSettings(c *cli.Context, cfg *vip.Config, withVIPs bool) (time.Duration, error) {
	refresh := c.Duration("garp-refresh")
	if refresh != 0 && !withVIPs {
		return 0, flagErr("garp-refresh", "needs --vip")
	}
	cfg.GARPRefresh = refresh
	if withVIPs {
		if _, err := cfg.Validate(); err != nil {
			return 0, err
		}
	}
	grace := c.Duration("vip-link-grace") // agent.Config.Validate judges it
	if !withVIPs || cfg.Mode != vip.ModeNIC {
		return 0, nil
	}
	return grace, nil
}

// platformWatcher builds the notice watcher the flags ask for, or nil. It
// makes no request: the watcher polls once the agent runs.
func platformWatcher(c *cli.Context, log *slog.Logger) (agent.PlatformWatcher, error) {
	az, aws := c.Bool("azure-scheduled-events"), c.Bool("aws-instance-events")
	if az && aws {
		return nil, flagErr("aws-instance-events", "cannot be combined with --azure-scheduled-events (a VM runs in one cloud)")
	}
	switch {
	case az:
		iv := c.Duration("azure-scheduled-events-interval")
		if iv < minNoticeInterval {
			return nil, flagErr("azure-scheduled-events-interval", "must be at least %s, got %s", minNoticeInterval, iv)
		}
		ep := c.String("azure-imds-endpoint")
		if u, err := url.Parse(ep); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, flagErr("azure-imds-endpoint", "%q is not an http(s) URL", ep)
		}
		return &azure.AzureEventsWatcher{Endpoint: ep, Interval: iv, Log: log}, nil
	case aws:
		iv := c.Duration("aws-instance-events-interval")
		if iv < minNoticeInterval {
			return nil, flagErr("aws-instance-events-interval", "must be at least %s, got %s", minNoticeInterval, iv)
		}
		var kinds []string
		for _, v := range c.StringSlice("aws-instance-event-types") {
			for _, k := range strings.Split(v, ",") {
				k = strings.TrimSpace(k)
				switch k {
				case awscloud.AWSSpot, awscloud.AWSRebalance, awscloud.AWSMaintenance:
					if !slices.Contains(kinds, k) {
						kinds = append(kinds, k)
					}
				default:
					return nil, flagErr("aws-instance-event-types", "%q is not spot, rebalance or maintenance", k)
				}
			}
		}
		if len(kinds) == 0 {
			return nil, flagErr("aws-instance-event-types", "names no notice type")
		}
		ep := c.String("aws-imds-endpoint")
		if ep != "" {
			if u, err := url.Parse(ep); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, flagErr("aws-imds-endpoint", "%q is not an http(s) URL", ep)
			}
		}
		return awscloud.NewAWSEventsWatcher(ep, kinds, iv, log), nil
	}
	return nil, nil
}

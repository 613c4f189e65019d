package cmdline

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/lbhc/lbhc/cloud"
	awscloud "github.com/lbhc/lbhc/cloud/aws"
	"github.com/urfave/cli/v2"
)

// awsCommonFlags are shared by the AWS failover actions and the DynamoDB
// lease backend; they are defined once, here, and included in awsFlags.
func awsCommonFlags() []cli.Flag {
	const cat = "AWS"
	return []cli.Flag{
		&cli.StringFlag{Name: "aws-region", Category: cat, EnvVars: envs("aws-region"),
			Usage: "AWS region (default: AWS_REGION / shared config, else instance metadata)"},
		&cli.StringFlag{Name: "aws-endpoint", Category: cat, EnvVars: envs("aws-endpoint"),
			Usage: "base URL overriding the AWS service endpoints (EC2, Route 53, DynamoDB), for tests and private endpoints"},
	}
}

// awsFlags are the flags of the AWS failover actions (Route 53, EC2 route,
// Elastic IP) plus awsCommonFlags.
func awsFlags() []cli.Flag {
	const cat = "AWS"
	flags := awsCommonFlags()
	return append(flags,
		// Instance identity: from IMDSv2 unless given (hosts outside EC2, tests).
		&cli.StringFlag{Name: "aws-imds-endpoint", Category: cat, EnvVars: envs("aws-imds-endpoint"),
			Usage: "instance metadata endpoint (default http://169.254.169.254); IMDSv2 tokens are always used"},
		&cli.StringFlag{Name: "aws-instance-id", Category: cat, EnvVars: envs("aws-instance-id"), Usage: "this instance's id (default: instance metadata)"},
		&cli.StringFlag{Name: "aws-eni-id", Category: cat, EnvVars: envs("aws-eni-id"), Usage: "this node's network interface id (default: the primary ENI from instance metadata)"},
		&cli.StringFlag{Name: "aws-private-ip", Category: cat, EnvVars: envs("aws-private-ip"), Usage: "this node's private IP (default: instance metadata local-ipv4)"},
		&cli.StringFlag{Name: "aws-vpc-id", Category: cat, EnvVars: envs("aws-vpc-id"), Usage: "this node's VPC id (default: instance metadata)"},
		// Call policy, LifeKeeper's Route53 tunables as defaults.
		&cli.IntFlag{Name: "aws-retries", Category: cat, EnvVars: envs("aws-retries"), Value: 3,
			Usage: "attempts per AWS API call (throttling, 5xx, timeouts are retried with backoff)"},
		&cli.DurationFlag{Name: "aws-retry-interval", Category: cat, EnvVars: envs("aws-retry-interval"), Value: 2 * time.Second,
			Usage: "wait before the first retry; doubles per retry up to 10x"},
		&cli.DurationFlag{Name: "aws-call-timeout", Category: cat, EnvVars: envs("aws-call-timeout"), Value: 10 * time.Second,
			Usage: "timeout of one AWS API call attempt"},
		&cli.IntFlag{Name: "aws-verify-tries", Category: cat, EnvVars: envs("aws-verify-tries"), Value: 4,
			Usage: "reads after a change until it reads back as written"},
		&cli.DurationFlag{Name: "aws-verify-interval", Category: cat, EnvVars: envs("aws-verify-interval"), Value: 2 * time.Second,
			Usage: "wait between those reads"},
		// route53
		&cli.StringFlag{Name: "route53-zone-id", Category: cat, EnvVars: envs("route53-zone-id"), Usage: "Route 53 hosted zone id of --route53-record (enables the route53 action)"},
		&cli.StringFlag{Name: "route53-record", Category: cat, EnvVars: envs("route53-record"), Usage: "DNS name to point at the leader (A for IPv4, AAAA for IPv6)"},
		&cli.StringFlag{Name: "route53-address", Category: cat, EnvVars: envs("route53-address"), Usage: "address to publish (default: this node's private IP)"},
		&cli.DurationFlag{Name: "route53-ttl", Category: cat, EnvVars: envs("route53-ttl"), Value: 10 * time.Second, Usage: "record TTL (whole seconds)"},
		&cli.DurationFlag{Name: "route53-sync-interval", Category: cat, EnvVars: envs("route53-sync-interval"), Value: 20 * time.Second,
			Usage: "wait between GetChange polls for INSYNC"},
		&cli.IntFlag{Name: "route53-sync-tries", Category: cat, EnvVars: envs("route53-sync-tries"), Value: 5,
			Usage: "GetChange polls before the change counts as failed"},
		// ec2-route
		&cli.BoolFlag{Name: "ec2-route", Category: cat, EnvVars: envs("ec2-route"),
			Usage: "point the VIP/32 routes of this VPC's route tables that hold them at this node's ENI"},
		&cli.StringSliceFlag{Name: "ec2-route-table", Category: cat, EnvVars: envs("ec2-route-table"),
			Usage: "route table to rewrite, repeatable (implies --ec2-route; default: discover in this node's VPC)"},
		&cli.BoolFlag{Name: "ec2-create-route", Category: cat, EnvVars: envs("ec2-create-route"), Usage: "create a missing VIP route instead of failing"},
		&cli.BoolFlag{Name: "ec2-disable-source-dest-check", Category: cat, EnvVars: envs("ec2-disable-source-dest-check"),
			Usage: "turn off the ENI's source/destination check (needed to receive traffic for the VIP)"},
		// eip
		&cli.StringFlag{Name: "eip-allocation-id", Category: cat, EnvVars: envs("eip-allocation-id"),
			Usage: "Elastic IP allocation id to associate with this node (eipalloc-...; enables the eip action)"},
	)
}

// awsIMDSClient is the IMDSv2 client: no fallback to tokenless IMDSv1.
func awsIMDSClient(c *cli.Context) *imds.Client {
	return awscloud.NewAWSIMDS(c.String("aws-imds-endpoint"))
}

// awsConfigFrom loads the SDK configuration (credentials chain, region) with
// --aws-region and --aws-endpoint applied. The DynamoDB lease backend calls
// it too.
func awsConfigFrom(c *cli.Context) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if r := c.String("aws-region"); r != "" {
		opts = append(opts, config.WithRegion(r))
	} else {
		opts = append(opts, config.WithEC2IMDSRegion(func(o *config.UseEC2IMDSRegion) { o.Client = awsIMDSClient(c) }))
	}
	ep := c.String("aws-endpoint")
	if ep != "" {
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return aws.Config{}, flagErr("aws-endpoint", "%q is not an http(s) URL", ep)
		}
	}
	ctx := c.Context
	if ctx == nil {
		ctx = context.Background()
	}
	// Bounds the instance-metadata region lookup on hosts outside EC2.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if ep != "" {
		cfg.BaseEndpoint = aws.String(ep)
	}
	if cfg.Region == "" {
		return aws.Config{}, flagErr("aws-region", "not set, and neither AWS_REGION, the shared config nor instance metadata gave one")
	}
	return cfg, nil
}

// awsSettings is the validated flag input of the AWS actions.
type awsSettings struct {
	route53, ec2Route, eip bool
	have                   awscloud.AWSInstance
	need                   awscloud.AWSNeed
	r53Addr                netip.Addr
	retry                  awscloud.AWSRetry
	verifyTries            int
	verifyInterval         time.Duration
}

// awsParse validates the AWS flags without touching the network.
func awsParse(c *cli.Context) (awsSettings, error) {
	var s awsSettings
	s.route53 = c.IsSet("route53-zone-id") || c.IsSet("route53-record")
	s.ec2Route = c.Bool("ec2-route") || len(c.StringSlice("ec2-route-table")) > 0
	s.eip = c.IsSet("eip-allocation-id")
	for _, f := range []string{"ec2-create-route", "ec2-disable-source-dest-check"} {
		if c.Bool(f) && !s.ec2Route {
			return s, flagErr(f, "needs --ec2-route or --ec2-route-table")
		}
	}
	if s.route53 {
		if c.String("route53-zone-id") == "" {
			return s, flagErr("route53-zone-id", "required with --route53-record")
		}
		if err := validDNSName(c.String("route53-record")); err != nil {
			return s, flagErr("route53-record", "%v", err)
		}
		if ttl := c.Duration("route53-ttl"); ttl < time.Second || ttl%time.Second != 0 || ttl > 2147483647*time.Second {
			return s, flagErr("route53-ttl", "must be a whole number of seconds, at least 1s, got %s", ttl)
		}
		if d := c.Duration("route53-sync-interval"); d <= 0 {
			return s, flagErr("route53-sync-interval", "must be positive, got %s", d)
		}
		if n := c.Int("route53-sync-tries"); n < 1 {
			return s, flagErr("route53-sync-tries", "must be at least 1, got %d", n)
		}
		if a := c.String("route53-address"); a != "" {
			ip, err := netip.ParseAddr(a)
			if err != nil || ip.Zone() != "" {
				return s, flagErr("route53-address", "%q is not an IP address", a)
			}
			s.r53Addr = ip.Unmap()
		} else {
			s.need.PrivateIP = true
		}
	} else {
		for _, f := range []string{"route53-address", "route53-ttl", "route53-sync-interval", "route53-sync-tries"} {
			if c.IsSet(f) {
				return s, flagErr(f, "needs --route53-zone-id and --route53-record")
			}
		}
	}
	for _, id := range c.StringSlice("ec2-route-table") {
		if !strings.HasPrefix(id, "rtb-") {
			return s, flagErr("ec2-route-table", "%q is not a route table id (rtb-...)", id)
		}
	}
	if s.eip && !strings.HasPrefix(c.String("eip-allocation-id"), "eipalloc-") {
		return s, flagErr("eip-allocation-id", "%q is not an allocation id (eipalloc-...)", c.String("eip-allocation-id"))
	}
	if s.ec2Route || s.eip {
		s.need.ENIID = true
	}
	if s.ec2Route {
		s.need.VPCID = true
	}
	if n := c.Int("aws-retries"); n < 1 {
		return s, flagErr("aws-retries", "must be at least 1, got %d", n)
	}
	if n := c.Int("aws-verify-tries"); n < 1 {
		return s, flagErr("aws-verify-tries", "must be at least 1, got %d", n)
	}
	for _, f := range []string{"aws-retry-interval", "aws-call-timeout", "aws-verify-interval"} {
		if d := c.Duration(f); d <= 0 {
			return s, flagErr(f, "must be positive, got %s", d)
		}
	}
	iv := c.Duration("aws-retry-interval")
	s.retry = awscloud.AWSRetry{Tries: c.Int("aws-retries"), Interval: iv, MaxInterval: 10 * iv, AttemptTimeout: c.Duration("aws-call-timeout")}
	s.verifyTries, s.verifyInterval = c.Int("aws-verify-tries"), c.Duration("aws-verify-interval")
	s.have = awscloud.AWSInstance{InstanceID: c.String("aws-instance-id"), ENIID: c.String("aws-eni-id"), VPCID: c.String("aws-vpc-id"), Region: c.String("aws-region")}
	if ip := c.String("aws-private-ip"); ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil || a.Zone() != "" {
			return s, flagErr("aws-private-ip", "%q is not an IP address", ip)
		}
		s.have.PrivateIP = a.Unmap()
	}
	for _, f := range []string{"aws-eni-id", "aws-vpc-id"} {
		if v, p := c.String(f), map[string]string{"aws-eni-id": "eni-", "aws-vpc-id": "vpc-"}[f]; v != "" && !strings.HasPrefix(v, p) {
			return s, flagErr(f, "%q is not a %s... id", v, p)
		}
	}
	return s, nil
}

// validDNSName accepts a fully qualified name (trailing dot optional,
// leftmost label may be "*").
func validDNSName(name string) error {
	n := strings.TrimSuffix(name, ".")
	if n == "" {
		return fmt.Errorf("required with --route53-zone-id")
	}
	if len(n) > 253 {
		return fmt.Errorf("%q is longer than 253 characters", name)
	}
	for i, l := range strings.Split(n, ".") {
		if l == "*" && i == 0 {
			continue
		}
		if l == "" || len(l) > 63 {
			return fmt.Errorf("%q has an empty or over-long label", name)
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Errorf("%q has an invalid character %q", name, r)
			}
		}
	}
	return nil
}

// awsActions builds the AWS failover actions from validated settings
// (awsParse), or returns nil, nil when none is set. Instance metadata is
// read only for values not given by flags.
func awsActions(ctx context.Context, c *cli.Context, s awsSettings, log *slog.Logger, m *cloud.Metrics) ([]cloud.Action, error) {
	if !s.route53 && !s.ec2Route && !s.eip {
		return nil, nil
	}
	inst, err := awscloud.DiscoverAWSInstance(ctx, awscloud.NewAWSIMDSClient(awsIMDSClient(c)), s.have, s.need)
	if err != nil {
		missing := "aws-eni-id"
		switch {
		case s.need.PrivateIP && !inst.PrivateIP.IsValid():
			missing = "aws-private-ip"
		case s.need.ENIID && inst.ENIID == "":
			missing = "aws-eni-id"
		case s.need.VPCID && inst.VPCID == "":
			missing = "aws-vpc-id"
		}
		return nil, flagErr(missing, "not set, and instance metadata failed (outside EC2 give it explicitly): %v", err)
	}
	cfg, err := awsConfigFrom(c)
	if err != nil {
		return nil, err
	}
	log.Info("aws node identity", "instance", inst.InstanceID, "eni", inst.ENIID, "private_ip", inst.PrivateIP, "vpc", inst.VPCID, "region", cfg.Region)
	var acts []cloud.Action
	if s.route53 {
		addr := s.r53Addr
		if !addr.IsValid() {
			addr = inst.PrivateIP
		}
		acts = append(acts, awscloud.NewRoute53(awscloud.Route53Config{
			ZoneID: c.String("route53-zone-id"), Record: c.String("route53-record"), Address: addr, TTL: c.Duration("route53-ttl"),
			Retry: s.retry, SyncInterval: c.Duration("route53-sync-interval"), SyncTries: c.Int("route53-sync-tries"),
			CheckInterval: s.verifyInterval, CheckTries: s.verifyTries,
		}, awscloud.NewAWSRoute53Client(cfg), log, m))
	}
	var ec2c *awscloud.EC2Client // built only when an EC2 action is selected
	if s.ec2Route || s.eip {
		ec2c = awscloud.NewAWSEC2Client(cfg)
	}
	if s.ec2Route {
		acts = append(acts, awscloud.NewEC2Route(awscloud.EC2RouteConfig{
			RouteTables: c.StringSlice("ec2-route-table"), VPCID: inst.VPCID, ENIID: inst.ENIID,
			CreateRoute: c.Bool("ec2-create-route"), DisableSourceDestCheck: c.Bool("ec2-disable-source-dest-check"),
			Retry: s.retry, CheckInterval: s.verifyInterval, CheckTries: s.verifyTries,
		}, ec2c, log, m))
	}
	if s.eip {
		acts = append(acts, awscloud.NewEIP(awscloud.EIPConfig{
			AllocationID: c.String("eip-allocation-id"), ENIID: inst.ENIID, PrivateIP: s.have.PrivateIP,
			Retry: s.retry, CheckInterval: s.verifyInterval, CheckTries: s.verifyTries,
		}, ec2c, log, m))
	}
	return acts, nil
}

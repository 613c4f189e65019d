package cmdline

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lbhc/lbhc/cloud"
	"github.com/lbhc/lbhc/cloud/gcp"
	"github.com/lbhc/lbhc/gcpauth"
)

// gcpFlags are the flags of the Google Cloud failover actions (gcp-route,
// gcp-alias-ip) and of GCE instance metadata. (The GCS lease backend's
// --gcs-* flags live with that backend.)
func gcpFlags() []cli.Flag {
	const cat = "Google Cloud"
	return []cli.Flag{
		&cli.BoolFlag{Name: "gcp-route", Category: cat, EnvVars: envs("gcp-route"),
			Usage: "point a static route VIP/32 of the VPC network at this instance (routes of the group's other nodes are deleted after ours exists)"},
		&cli.BoolFlag{Name: "gcp-alias-ip", Category: cat, EnvVars: envs("gcp-alias-ip"),
			Usage: "move each --vip as an alias IP range /32 to this instance's nic0"},
		&cli.StringSliceFlag{Name: "gcp-alias-ip-range", Category: cat, EnvVars: envs("gcp-alias-ip-range"),
			Usage: "alias IP range (CIDR) to move instead of the VIPs, repeatable (implies --gcp-alias-ip)"},
		&cli.StringFlag{Name: "gcp-alias-subnet-range", Category: cat, EnvVars: envs("gcp-alias-subnet-range"),
			Usage: "secondary range of the subnet the alias ranges come from (default: the subnet's primary range)"},
		&cli.StringFlag{Name: "gcp-project", Category: cat, EnvVars: envs("gcp-project"), Usage: "project id of the instances and routes (default: instance metadata)"},
		&cli.StringFlag{Name: "gcp-zone", Category: cat, EnvVars: envs("gcp-zone"), Usage: "this instance's zone (default: instance metadata)"},
		&cli.StringFlag{Name: "gcp-instance", Category: cat, EnvVars: envs("gcp-instance"), Usage: "this instance's name (default: instance metadata)"},
		&cli.StringFlag{Name: "gcp-network", Category: cat, EnvVars: envs("gcp-network"), Usage: "VPC network name of the routes and alias ranges (default: nic0's network from instance metadata)"},
		&cli.StringFlag{Name: "gcp-compute-endpoint", Category: cat, EnvVars: envs("gcp-compute-endpoint"),
			Usage: "Compute Engine API base URL (default " + gcp.DefaultComputeEndpoint + "); a plain-http loopback URL (a test fake) gets no credentials"},
		&cli.StringFlag{Name: "gcp-metadata-endpoint", Category: cat, EnvVars: envs("gcp-metadata-endpoint"),
			Usage: "metadata server base URL (default: GCE_METADATA_HOST, else " + gcp.DefaultMetadataEndpoint + ")"},
		&cli.DurationFlag{Name: "gcp-operation-poll-interval", Category: cat, EnvVars: envs("gcp-operation-poll-interval"), Value: gcp.DefaultRetry.Poll,
			Usage: "wait between polls of a pending Compute Engine operation"},
	}
}

// gcpSettings is the validated flag input of the GCP actions.
type gcpSettings struct {
	route, alias  bool
	ranges        []netip.Prefix
	subnetRange   string
	project, zone string
	instance, net string
	compute       string // "" = the public API
	anonymous     bool   // compute is a loopback http fake: no credentials
	metadata      string // base URL
	poll          time.Duration
}

// gcpParse validates the GCP flags without touching the network. vips
// are the --vip prefixes (alias ranges are IPv4 only).
func gcpParse(c *cli.Context, vips []netip.Prefix) (gcpSettings, error) {
	s := gcpSettings{route: c.Bool("gcp-route"), alias: c.Bool("gcp-alias-ip"), subnetRange: c.String("gcp-alias-subnet-range"),
		project: c.String("gcp-project"), zone: c.String("gcp-zone"), instance: c.String("gcp-instance"), net: c.String("gcp-network"),
		poll: c.Duration("gcp-operation-poll-interval")}
	for _, r := range c.StringSlice("gcp-alias-ip-range") {
		p, err := netip.ParsePrefix(strings.TrimSpace(r))
		if err != nil || !p.Addr().Is4() || p != p.Masked() {
			return s, flagErr("gcp-alias-ip-range", "%q is not an IPv4 CIDR range like 10.0.1.5/32 (alias IP ranges are IPv4 only)", r)
		}
		s.ranges = append(s.ranges, p)
		s.alias = true
	}
	if s.alias && len(s.ranges) == 0 {
		for _, v := range vips {
			if !v.Addr().Is4() {
				return s, flagErr("vip", "%s: alias IP ranges are IPv4 only (--gcp-alias-ip)", v)
			}
		}
	}
	for _, f := range []struct{ flag, v string }{{"gcp-zone", s.zone}, {"gcp-instance", s.instance}, {"gcp-network", s.net}, {"gcp-alias-subnet-range", s.subnetRange}} {
		if f.v != "" && !gcp.ValidName(f.v) {
			return s, flagErr(f.flag, "%q is not a Compute Engine name (lower-case letters, digits and '-', starting with a letter, at most 63)", f.v)
		}
	}
	if s.project != "" && !gcp.ValidProject(s.project) {
		return s, flagErr("gcp-project", "%q is not a project id (6-30 lower-case letters, digits and '-')", s.project)
	}
	if s.poll < 10*time.Millisecond {
		return s, flagErr("gcp-operation-poll-interval", "must be at least 10ms, got %s", s.poll)
	}
	var err error
	if s.compute, s.anonymous, err = gcpEndpoint("gcp-compute-endpoint", c.String("gcp-compute-endpoint")); err != nil {
		return s, err
	}
	if s.metadata = c.String("gcp-metadata-endpoint"); s.metadata != "" {
		if _, _, err := gcpEndpoint("gcp-metadata-endpoint", s.metadata); err != nil {
			return s, err
		}
	} else if h := os.Getenv("GCE_METADATA_HOST"); h != "" {
		s.metadata = "http://" + h
	}
	return s, nil
}

// gcpEndpoint checks an http(s) base URL. Plain http is accepted only for
// loopback hosts (a test fake): anonymous reports that case, in which no
// credentials are sent.
func gcpEndpoint(flag, v string) (base string, anonymous bool, err error) {
	if v == "" {
		return "", false, nil
	}
	u, perr := url.Parse(v)
	if perr != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", false, flagErr(flag, "%q is not an http(s) URL", v)
	}
	if u.Scheme == "http" {
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) && flag == "gcp-compute-endpoint" {
			return "", false, flagErr(flag, "%q uses plain http; only loopback addresses may (the bearer token would travel in clear text)", v)
		}
		anonymous = true
	}
	return v, anonymous, nil
}

// gcpActions builds the gcp-route and gcp-alias-ip actions, or returns
// nil, nil when neither is enabled. Instance metadata is read only for
// values not given by flags.
func gcpActions(ctx context.Context, c *cli.Context, s gcpSettings, log *slog.Logger, m *cloud.Metrics) ([]cloud.Action, error) {
	if !s.route && !s.alias {
		return nil, nil
	}
	if s.project == "" || s.zone == "" || s.instance == "" || s.net == "" {
		in, err := (&gcp.Metadata{Endpoint: s.metadata}).Instance(ctx)
		if err != nil {
			missing := "gcp-project"
			switch {
			case s.project != "" && s.zone == "":
				missing = "gcp-zone"
			case s.project != "" && s.instance == "":
				missing = "gcp-instance"
			case s.project != "":
				missing = "gcp-network"
			}
			return nil, flagErr(missing, "not set, and GCE instance metadata failed (outside Google Cloud give it explicitly): %v", err)
		}
		log.Info("gcp node identity", "instance", in.Name, "zone", in.Zone, "project", in.Project, "network", in.Network)
		s.project, s.zone = orMeta(s.project, in.Project), orMeta(s.zone, in.Zone)
		s.instance, s.net = orMeta(s.instance, in.Name), orMeta(s.net, in.Network)
	}
	compute := &gcp.Compute{Endpoint: s.compute, Project: s.project}
	if !s.anonymous {
		host := ""
		if s.metadata != "" {
			if u, err := url.Parse(s.metadata); err == nil {
				host = u.Host
			}
		}
		// Reads key files only; the first token is fetched by the first call.
		src, err := gcpauth.Find(gcpauth.Config{Scope: gcpauth.ScopeCloudPlatform, MetadataHost: host})
		if err != nil {
			return nil, fmt.Errorf("gcp credentials: %w", err)
		}
		log.Info("gcp credentials", "source", src.Kind())
		compute.Token = src.Token
	}
	retry := gcp.DefaultRetry
	retry.Poll = s.poll
	var out []cloud.Action
	if s.route {
		a, err := gcp.NewRoute(gcp.RouteConfig{Group: c.String("lease-name"), NodeID: c.String("node-id"), Network: s.net,
			Zone: s.zone, Instance: s.instance, Retry: retry}, compute, log, m)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if s.alias {
		a, err := gcp.NewAliasIP(gcp.AliasConfig{Zone: s.zone, Instance: s.instance, Network: s.net, Ranges: s.ranges,
			SubnetRange: s.subnetRange, Retry: retry}, compute, log, m)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// orMeta is the flag value v, or the metadata value m when v is unset.
func orMeta(v, m string) string {
	if v != "" {
		return v
	}
	return m
}

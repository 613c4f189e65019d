package aws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/lbhc/lbhc/cloud"
)

// Route53API is the part of Route 53 the route53 action uses (*Route53Client).
type Route53API interface {
	ChangeResourceRecordSets(ctx context.Context, in *route53.ChangeResourceRecordSetsInput, opts ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error)
	ListResourceRecordSets(ctx context.Context, in *route53.ListResourceRecordSetsInput, opts ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error)
	GetChange(ctx context.Context, in *route53.GetChangeInput, opts ...func(*route53.Options)) (*route53.GetChangeOutput, error)
}

// Route53Config configures the Route53 action. The defaults are the tunables
// of LifeKeeper's Route53 recovery kit (TTL 10 s; record update 2 s x 3;
// change-status check 20 s x 5; record check 2 s x 4).
type Route53Config struct {
	ZoneID  string     // hosted zone id, with or without the "/hostedzone/" prefix
	Record  string     // fully qualified record name, e.g. "db.example.com"
	Address netip.Addr // this node's address: A record for IPv4, AAAA for IPv6
	TTL     time.Duration

	Retry AWSRetry // each API call (the record update included)
	// GetChange is polled until INSYNC: SyncTries polls, SyncInterval apart.
	SyncInterval time.Duration
	SyncTries    int
	// After INSYNC the record is read back until it matches: CheckTries
	// reads, CheckInterval apart.
	CheckInterval time.Duration
	CheckTries    int
}

// Route53 points a DNS record at this node: the LifeKeeper Route53 / Pacemaker
// aws-vpc-route53 setup for clients that reach the nodes over Direct Connect
// or VPN and cannot use the load balancer.
type Route53 struct {
	cfg    Route53Config
	client Route53API
	log    *slog.Logger
	m      *cloud.Metrics
	st     *cloud.StatusBox
}

// NewRoute53 returns the Route53 action; zero fields of cfg get defaults.
func NewRoute53(cfg Route53Config, client Route53API, log *slog.Logger, m *cloud.Metrics) *Route53 {
	if cfg.TTL <= 0 {
		cfg.TTL = 10 * time.Second
	}
	actionDefaults(&cfg.Retry, &cfg.CheckInterval, &cfg.CheckTries)
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = 20 * time.Second
	}
	if cfg.SyncTries <= 0 {
		cfg.SyncTries = 5
	}
	cfg.ZoneID = cfg.ZoneID[strings.LastIndex(cfg.ZoneID, "/")+1:]
	a := &Route53{cfg: cfg, client: client, log: log.With("action", "route53"), m: m, st: cloud.NewStatusBox("route53")}
	m.Init("route53")
	return a
}

// Name implements Action.
func (a *Route53) Name() string { return "route53" }

// Status implements Action.
func (a *Route53) Status() cloud.Status { return a.st.Get() }

func (a *Route53) rrType() r53types.RRType {
	if a.cfg.Address.Is4() || a.cfg.Address.Is4In6() {
		return r53types.RRTypeA
	}
	return r53types.RRTypeAaaa
}

func (a *Route53) want() string { return a.cfg.Address.Unmap().String() }

func (a *Route53) detail() string {
	return fmt.Sprintf("%s %s -> %s in zone %s", a.cfg.Record, a.rrType(), a.want(), a.cfg.ZoneID)
}

func (a *Route53) shell() cloud.Shell {
	return cloud.Shell{Name: "route53", What: "route53 record", Prefix: "route53 " + a.cfg.Record, Log: a.log, M: a.m, St: a.st}
}

func (a *Route53) ensureDetail(ctx context.Context, ev cloud.Event, log *slog.Logger) (bool, string, error) {
	changed, err := a.ensure(ctx, ev, log)
	return changed, a.detail(), err
}

// Promote implements Action: read, UPSERT when wrong, wait for INSYNC, read back.
func (a *Route53) Promote(ctx context.Context, ev cloud.Event) error {
	return a.shell().Promote(ctx, ev, a.ensureDetail)
}

// Monitor implements Action: compare the record with our address and repair.
func (a *Route53) Monitor(ctx context.Context, ev cloud.Event) (bool, error) {
	return a.shell().Monitor(ctx, ev, a.ensureDetail)
}

// Demote implements Action. The record is left alone: the next leader
// overwrites it, and deleting it would leave clients with no answer at all.
func (a *Route53) Demote(ctx context.Context, ev cloud.Event) error { return a.shell().Demote() }

// ensure makes the record point at us. changed reports whether it wrote.
func (a *Route53) ensure(ctx context.Context, ev cloud.Event, log *slog.Logger) (changed bool, err error) {
	cur, err := a.read(ctx, ev, log)
	if err != nil {
		return false, err
	}
	if a.matches(cur) {
		return false, nil
	}
	if !ev.Leading() {
		return false, fmt.Errorf("record reads %s: %w", describeRRSet(cur), cloud.ErrNotLeader)
	}
	log.Info("route53 record does not point here; updating", "record", a.cfg.Record, "current", describeRRSet(cur), "want", a.want())
	var changeID string
	err = awsCall(ctx, a.cfg.Retry, log, ev, true, "ChangeResourceRecordSets", func(ctx context.Context) error {
		out, err := a.client.ChangeResourceRecordSets(ctx, a.upsertInput(ev))
		if err == nil {
			if out.ChangeInfo == nil || out.ChangeInfo.Id == nil {
				return errors.New("response without ChangeInfo.Id")
			}
			changeID = *out.ChangeInfo.Id
		}
		return err
	})
	if err != nil {
		return false, err
	}
	if err := a.waitInsync(ctx, ev, log, changeID); err != nil {
		return true, err
	}
	// INSYNC means the authoritative servers have the change; read it back
	// through the API as LifeKeeper's record check does.
	for i := 1; ; i++ {
		cur, err = a.read(ctx, ev, log)
		if err == nil && a.matches(cur) {
			return true, nil
		}
		if i >= a.cfg.CheckTries {
			if err != nil {
				return true, err
			}
			return true, fmt.Errorf("record reads %s after change %s, want %s (%d checks)", describeRRSet(cur), changeID, a.want(), i)
		}
		if err := cloud.Sleep(ctx, a.cfg.CheckInterval); err != nil {
			return true, err
		}
	}
}

func (a *Route53) upsertInput(ev cloud.Event) *route53.ChangeResourceRecordSetsInput {
	return &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(a.cfg.ZoneID),
		ChangeBatch: &r53types.ChangeBatch{
			Comment: aws.String(fmt.Sprintf("lbhc node %s term %d", ev.NodeID, ev.Term)),
			Changes: []r53types.Change{{
				Action: r53types.ChangeActionUpsert,
				ResourceRecordSet: &r53types.ResourceRecordSet{
					Name:            aws.String(a.cfg.Record),
					Type:            a.rrType(),
					TTL:             aws.Int64(int64(a.cfg.TTL / time.Second)),
					ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(a.want())}},
				},
			}},
		},
	}
}

// waitInsync polls GetChange until the change is INSYNC.
func (a *Route53) waitInsync(ctx context.Context, ev cloud.Event, log *slog.Logger, id string) error {
	status := ""
	for i := 1; ; i++ {
		err := awsCall(ctx, a.cfg.Retry, log, ev, false, "GetChange", func(ctx context.Context) error {
			out, err := a.client.GetChange(ctx, &route53.GetChangeInput{Id: aws.String(id)})
			if err == nil {
				if out.ChangeInfo == nil {
					return errors.New("GetChange response without ChangeInfo")
				}
				status = string(out.ChangeInfo.Status)
			}
			return err
		})
		if err != nil {
			return err
		}
		if status == string(r53types.ChangeStatusInsync) {
			log.Debug("route53 change in sync", "change", id, "polls", i)
			return nil
		}
		if i >= a.cfg.SyncTries {
			return fmt.Errorf("change %s still %s after %d status checks %s apart", id, status, i, a.cfg.SyncInterval)
		}
		if err := cloud.Sleep(ctx, a.cfg.SyncInterval); err != nil {
			return err
		}
	}
}

// read returns the simple-routing record set of our name and type, or nil.
func (a *Route53) read(ctx context.Context, ev cloud.Event, log *slog.Logger) (*r53types.ResourceRecordSet, error) {
	var found *r53types.ResourceRecordSet
	err := awsCall(ctx, a.cfg.Retry, log, ev, false, "ListResourceRecordSets", func(ctx context.Context) error {
		out, err := a.client.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{
			HostedZoneId:    aws.String(a.cfg.ZoneID),
			StartRecordName: aws.String(a.cfg.Record),
			StartRecordType: a.rrType(),
			MaxItems:        aws.Int32(10),
		})
		if err != nil {
			return err
		}
		found = findRRSet(out.ResourceRecordSets, a.cfg.Record, a.rrType())
		return nil
	})
	return found, err
}

// matches reports whether rs is exactly our record: one value, our address,
// our TTL, not an alias.
func (a *Route53) matches(rs *r53types.ResourceRecordSet) bool {
	if rs == nil || rs.AliasTarget != nil || len(rs.ResourceRecords) != 1 || rs.TTL == nil {
		return false
	}
	got, err := netip.ParseAddr(aws.ToString(rs.ResourceRecords[0].Value))
	return err == nil && got.Unmap() == a.cfg.Address.Unmap() && *rs.TTL == int64(a.cfg.TTL/time.Second)
}

// findRRSet picks the record set named name of type t without a set
// identifier (simple routing) from a ListResourceRecordSets page.
func findRRSet(sets []r53types.ResourceRecordSet, name string, t r53types.RRType) *r53types.ResourceRecordSet {
	want := normalizeDNSName(name)
	for i := range sets {
		rs := &sets[i]
		if rs.Type == t && rs.SetIdentifier == nil && normalizeDNSName(aws.ToString(rs.Name)) == want {
			return rs
		}
	}
	return nil
}

// normalizeDNSName lowercases, drops the trailing dot and decodes Route53's
// \ooo octal escapes (it returns "*" as "\052"), so names compare equal
// however they were written.
func normalizeDNSName(s string) string {
	s = strings.TrimSuffix(strings.ToLower(s), ".")
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func describeRRSet(rs *r53types.ResourceRecordSet) string {
	if rs == nil {
		return "(absent)"
	}
	if rs.AliasTarget != nil {
		return "alias " + aws.ToString(rs.AliasTarget.DNSName)
	}
	vals := make([]string, 0, len(rs.ResourceRecords))
	for _, r := range rs.ResourceRecords {
		vals = append(vals, aws.ToString(r.Value))
	}
	slices.Sort(vals)
	return fmt.Sprintf("[%s] ttl %d", awsJoin(vals), aws.ToInt64(rs.TTL))
}

package aws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/lbhc/lbhc/cloud"
)

// EIPAPI is the part of EC2 the eip action uses (*EC2Client).
type EIPAPI interface {
	AssociateAddress(ctx context.Context, in *ec2.AssociateAddressInput, opts ...func(*ec2.Options)) (*ec2.AssociateAddressOutput, error)
	DescribeAddresses(ctx context.Context, in *ec2.DescribeAddressesInput, opts ...func(*ec2.Options)) (*ec2.DescribeAddressesOutput, error)
}

// EIPConfig configures the eip action.
type EIPConfig struct {
	AllocationID string     // eipalloc-...
	ENIID        string     // this node's network interface
	PrivateIP    netip.Addr // private address on ENIID to map to; invalid = the ENI's primary

	Retry         AWSRetry
	CheckInterval time.Duration // read-back after a change: CheckTries reads, CheckInterval apart
	CheckTries    int
}

// EIP associates an Elastic IP with this node (Pacemaker awseip): clients on
// the internet follow the public address to the leader.
type EIP struct {
	cfg    EIPConfig
	client EIPAPI
	log    *slog.Logger
	m      *cloud.Metrics
	st     *cloud.StatusBox
}

// NewEIP returns the eip action; zero fields of cfg get defaults.
func NewEIP(cfg EIPConfig, client EIPAPI, log *slog.Logger, m *cloud.Metrics) *EIP {
	actionDefaults(&cfg.Retry, &cfg.CheckInterval, &cfg.CheckTries)
	m.Init("eip")
	return &EIP{cfg: cfg, client: client, log: log.With("action", "eip"), m: m, st: cloud.NewStatusBox("eip")}
}

// Name implements Action.
func (a *EIP) Name() string { return "eip" }

// Status implements Action.
func (a *EIP) Status() cloud.Status { return a.st.Get() }

func (a *EIP) detail() string {
	d := a.cfg.AllocationID + " -> " + a.cfg.ENIID
	if a.cfg.PrivateIP.IsValid() {
		d += " (" + a.cfg.PrivateIP.String() + ")"
	}
	return d
}

func (a *EIP) shell() cloud.Shell {
	return cloud.Shell{Name: "eip", What: "elastic IP", Prefix: "eip " + a.cfg.AllocationID, Log: a.log, M: a.m, St: a.st}
}

func (a *EIP) ensureDetail(ctx context.Context, ev cloud.Event, log *slog.Logger) (bool, string, error) {
	changed, err := a.ensure(ctx, ev, log)
	return changed, a.detail(), err
}

// Promote implements Action.
func (a *EIP) Promote(ctx context.Context, ev cloud.Event) error {
	return a.shell().Promote(ctx, ev, a.ensureDetail)
}

// Monitor implements Action.
func (a *EIP) Monitor(ctx context.Context, ev cloud.Event) (bool, error) {
	return a.shell().Monitor(ctx, ev, a.ensureDetail)
}

// Demote implements Action: the next leader reassociates the address.
func (a *EIP) Demote(ctx context.Context, ev cloud.Event) error { return a.shell().Demote() }

func (a *EIP) ensure(ctx context.Context, ev cloud.Event, log *slog.Logger) (bool, error) {
	if a.cfg.ENIID == "" {
		return false, errors.New("no network interface id (set --aws-eni-id or run on EC2)")
	}
	addr, err := a.describe(ctx, ev, log)
	if err != nil {
		return false, err
	}
	if a.ours(addr) {
		return false, nil
	}
	if !ev.Leading() {
		return false, fmt.Errorf("address is on %q: %w", aws.ToString(addr.NetworkInterfaceId), cloud.ErrNotLeader)
	}
	log.Info("elastic IP not associated here; associating", "allocation", a.cfg.AllocationID,
		"public_ip", aws.ToString(addr.PublicIp), "was", aws.ToString(addr.NetworkInterfaceId)+" "+aws.ToString(addr.PrivateIpAddress))
	err = awsCall(ctx, a.cfg.Retry, log, ev, true, "AssociateAddress", func(ctx context.Context) error {
		in := &ec2.AssociateAddressInput{
			AllocationId:       aws.String(a.cfg.AllocationID),
			NetworkInterfaceId: aws.String(a.cfg.ENIID),
			AllowReassociation: aws.Bool(true),
		}
		if a.cfg.PrivateIP.IsValid() {
			in.PrivateIpAddress = aws.String(a.cfg.PrivateIP.String())
		}
		_, err := a.client.AssociateAddress(ctx, in)
		return err
	})
	if err != nil {
		return false, err
	}
	for i := 1; ; i++ {
		addr, err = a.describe(ctx, ev, log)
		if err == nil && a.ours(addr) {
			return true, nil
		}
		if i >= a.cfg.CheckTries {
			if err == nil {
				err = fmt.Errorf("still associated with %q after the change", aws.ToString(addr.NetworkInterfaceId))
			}
			return true, err
		}
		if err := cloud.Sleep(ctx, a.cfg.CheckInterval); err != nil {
			return true, err
		}
	}
}

func (a *EIP) ours(addr *ec2types.Address) bool {
	if aws.ToString(addr.NetworkInterfaceId) != a.cfg.ENIID {
		return false
	}
	return !a.cfg.PrivateIP.IsValid() || aws.ToString(addr.PrivateIpAddress) == a.cfg.PrivateIP.String()
}

func (a *EIP) describe(ctx context.Context, ev cloud.Event, log *slog.Logger) (*ec2types.Address, error) {
	var addr *ec2types.Address
	err := awsCall(ctx, a.cfg.Retry, log, ev, false, "DescribeAddresses", func(ctx context.Context) error {
		out, err := a.client.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: []string{a.cfg.AllocationID}})
		if err != nil {
			return err
		}
		if len(out.Addresses) != 1 {
			return fmt.Errorf("DescribeAddresses returned %d addresses for %s", len(out.Addresses), a.cfg.AllocationID)
		}
		addr = &out.Addresses[0]
		return nil
	})
	return addr, err
}

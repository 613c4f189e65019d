package aws

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// AWSIMDSAPI is the part of the instance metadata client (*IMDSClient) used
// to learn who this node is.
// The client does the IMDSv2 token dance (PUT /latest/api/token, then GETs
// with the token header) and refreshes the token on 401.
type AWSIMDSAPI interface {
	GetMetadata(ctx context.Context, in *imds.GetMetadataInput, opts ...func(*imds.Options)) (*imds.GetMetadataOutput, error)
	GetRegion(ctx context.Context, in *imds.GetRegionInput, opts ...func(*imds.Options)) (*imds.GetRegionOutput, error)
}

// AWSInstance is what the AWS actions need to know about this node.
type AWSInstance struct {
	InstanceID string
	MAC        string // primary interface's MAC, the key of the per-interface metadata
	ENIID      string
	PrivateIP  netip.Addr
	VPCID      string
	Region     string
}

// AWSNeed selects the AWSInstance fields an AWS configuration requires.
type AWSNeed struct {
	InstanceID, ENIID, PrivateIP, VPCID, Region bool
}

// DiscoverAWSInstance fills the fields of have that need asks for and that
// are still empty, from instance metadata. Fields already set (from flags)
// are never looked up, so a host outside EC2 works when all are given.
// client may be nil when nothing is missing.
func DiscoverAWSInstance(ctx context.Context, client AWSIMDSAPI, have AWSInstance, need AWSNeed) (AWSInstance, error) {
	missing := (need.InstanceID && have.InstanceID == "") || (need.ENIID && have.ENIID == "") ||
		(need.PrivateIP && !have.PrivateIP.IsValid()) || (need.VPCID && have.VPCID == "") || (need.Region && have.Region == "")
	if !missing {
		return have, nil
	}
	if client == nil {
		return have, fmt.Errorf("instance metadata: no client and fields missing")
	}
	get := func(path string) (string, error) {
		out, err := client.GetMetadata(ctx, &imds.GetMetadataInput{Path: path})
		if err != nil {
			return "", fmt.Errorf("instance metadata %s: %w", path, err)
		}
		defer out.Content.Close()
		b, err := io.ReadAll(io.LimitReader(out.Content, 64<<10)) // metadata values are tiny; 64 KiB is a bound
		if err != nil {
			return "", fmt.Errorf("instance metadata %s: %w", path, err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("instance metadata %s: empty", path)
		}
		return v, nil
	}
	var err error
	if need.InstanceID && have.InstanceID == "" {
		if have.InstanceID, err = get("instance-id"); err != nil {
			return have, err
		}
	}
	if need.PrivateIP && !have.PrivateIP.IsValid() {
		s, err := get("local-ipv4")
		if err != nil {
			return have, err
		}
		if have.PrivateIP, err = netip.ParseAddr(s); err != nil {
			return have, fmt.Errorf("instance metadata local-ipv4: %w", err)
		}
	}
	if (need.ENIID && have.ENIID == "") || (need.VPCID && have.VPCID == "") {
		if have.MAC == "" {
			if have.MAC, err = get("mac"); err != nil {
				return have, err
			}
		}
		if need.ENIID && have.ENIID == "" {
			if have.ENIID, err = get("network/interfaces/macs/" + have.MAC + "/interface-id"); err != nil {
				return have, err
			}
		}
		if need.VPCID && have.VPCID == "" {
			if have.VPCID, err = get("network/interfaces/macs/" + have.MAC + "/vpc-id"); err != nil {
				return have, err
			}
		}
	}
	if need.Region && have.Region == "" {
		out, err := client.GetRegion(ctx, &imds.GetRegionInput{})
		if err != nil {
			return have, fmt.Errorf("instance metadata region: %w", err)
		}
		if strings.TrimSpace(out.Region) == "" {
			// An identity document without a region would send every
			// AWS call to an empty endpoint name (found by fuzzing).
			return have, fmt.Errorf("instance metadata region: empty")
		}
		have.Region = out.Region
	}
	return have, nil
}

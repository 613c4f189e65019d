package aws

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// fuzzIMDS answers every metadata path from one fuzzed document:
// "path=value" lines; a missing path is an error.
type fuzzIMDS map[string]string

func (m fuzzIMDS) GetMetadata(_ context.Context, in *imds.GetMetadataInput, _ ...func(*imds.Options)) (*imds.GetMetadataOutput, error) {
	v, ok := m[in.Path]
	if !ok {
		return nil, errors.New("404 not found")
	}
	return &imds.GetMetadataOutput{Content: io.NopCloser(strings.NewReader(v))}, nil
}

func (m fuzzIMDS) GetRegion(context.Context, *imds.GetRegionInput, ...func(*imds.Options)) (*imds.GetRegionOutput, error) {
	v, ok := m["region"]
	if !ok {
		return nil, errors.New("404 not found")
	}
	return &imds.GetRegionOutput{Region: v}, nil
}

// FuzzDiscoverAWSInstance: whatever the metadata service answers, a
// successful discovery has every field that was asked for.
func FuzzDiscoverAWSInstance(f *testing.F) {
	f.Add("instance-id=i-0123\nlocal-ipv4=10.0.0.5\nmac=0a:00:00:00:00:01\n"+
		"network/interfaces/macs/0a:00:00:00:00:01/interface-id=eni-1\nnetwork/interfaces/macs/0a:00:00:00:00:01/vpc-id=vpc-1\nregion=eu-west-1", uint8(31))
	f.Add("instance-id=  \nlocal-ipv4=10.0.0.500", uint8(3))
	f.Add("mac=../../x\nnetwork/interfaces/macs/../../x/interface-id=eni", uint8(4))
	f.Fuzz(func(t *testing.T, doc string, needBits uint8) {
		m := fuzzIMDS{}
		for _, line := range strings.Split(doc, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				m[k] = v
			}
		}
		need := AWSNeed{InstanceID: needBits&1 != 0, PrivateIP: needBits&2 != 0, ENIID: needBits&4 != 0,
			VPCID: needBits&8 != 0, Region: needBits&16 != 0}
		inst, err := DiscoverAWSInstance(context.Background(), m, AWSInstance{}, need)
		if err != nil {
			return
		}
		switch {
		case need.InstanceID && strings.TrimSpace(inst.InstanceID) == "",
			need.PrivateIP && !inst.PrivateIP.IsValid(),
			need.ENIID && strings.TrimSpace(inst.ENIID) == "",
			need.VPCID && strings.TrimSpace(inst.VPCID) == "",
			need.Region && strings.TrimSpace(inst.Region) == "":
			t.Fatalf("discovery succeeded without a needed field: need %+v, got %+v", need, inst)
		}
	})
}

package aws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/route53"
)

// The SDK clients never reach an interface value, `any` or fmt, not even as
// a field of a struct that does. The command line renders help with
// text/template, which uses reflect's method lookup; once a program does
// that, the Go linker keeps every exported method of every type that is
// converted to an interface, and of every type reachable from its type
// descriptor (field types included). *ec2.Client has about 2,400
// operations (18 MiB of code). So these wrappers hold only method values
// of the operations lbhc calls: a func field's type names the input and
// output types, never the client, and only those operations are linked.
// The consumer interfaces (EC2RouteAPI, EIPAPI, Route53API, AWSIMDSAPI)
// take these structs. tools/binsize's test fails when an unused operation
// is linked again.

// EC2Client is the part of the EC2 API the ec2-route and eip actions call.
type EC2Client struct {
	describeRouteTables             func(context.Context, *ec2.DescribeRouteTablesInput, ...func(*ec2.Options)) (*ec2.DescribeRouteTablesOutput, error)
	replaceRoute                    func(context.Context, *ec2.ReplaceRouteInput, ...func(*ec2.Options)) (*ec2.ReplaceRouteOutput, error)
	createRoute                     func(context.Context, *ec2.CreateRouteInput, ...func(*ec2.Options)) (*ec2.CreateRouteOutput, error)
	describeNetworkInterfaces       func(context.Context, *ec2.DescribeNetworkInterfacesInput, ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error)
	modifyNetworkInterfaceAttribute func(context.Context, *ec2.ModifyNetworkInterfaceAttributeInput, ...func(*ec2.Options)) (*ec2.ModifyNetworkInterfaceAttributeOutput, error)
	associateAddress                func(context.Context, *ec2.AssociateAddressInput, ...func(*ec2.Options)) (*ec2.AssociateAddressOutput, error)
	describeAddresses               func(context.Context, *ec2.DescribeAddressesInput, ...func(*ec2.Options)) (*ec2.DescribeAddressesOutput, error)
}

// NewAWSEC2Client builds the EC2 client for the ec2-route and eip actions
// from cfg, with the SDK's own retries off (AWSRetry retries instead, asking
// Event.Valid before every write).
func NewAWSEC2Client(cfg aws.Config) *EC2Client {
	c := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.Retryer = aws.NopRetryer{} })
	return &EC2Client{
		describeRouteTables:             c.DescribeRouteTables,
		replaceRoute:                    c.ReplaceRoute,
		createRoute:                     c.CreateRoute,
		describeNetworkInterfaces:       c.DescribeNetworkInterfaces,
		modifyNetworkInterfaceAttribute: c.ModifyNetworkInterfaceAttribute,
		associateAddress:                c.AssociateAddress,
		describeAddresses:               c.DescribeAddresses,
	}
}

func (e *EC2Client) DescribeRouteTables(ctx context.Context, in *ec2.DescribeRouteTablesInput, opts ...func(*ec2.Options)) (*ec2.DescribeRouteTablesOutput, error) {
	return e.describeRouteTables(ctx, in, opts...)
}

func (e *EC2Client) ReplaceRoute(ctx context.Context, in *ec2.ReplaceRouteInput, opts ...func(*ec2.Options)) (*ec2.ReplaceRouteOutput, error) {
	return e.replaceRoute(ctx, in, opts...)
}

func (e *EC2Client) CreateRoute(ctx context.Context, in *ec2.CreateRouteInput, opts ...func(*ec2.Options)) (*ec2.CreateRouteOutput, error) {
	return e.createRoute(ctx, in, opts...)
}

func (e *EC2Client) DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, opts ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	return e.describeNetworkInterfaces(ctx, in, opts...)
}

func (e *EC2Client) ModifyNetworkInterfaceAttribute(ctx context.Context, in *ec2.ModifyNetworkInterfaceAttributeInput, opts ...func(*ec2.Options)) (*ec2.ModifyNetworkInterfaceAttributeOutput, error) {
	return e.modifyNetworkInterfaceAttribute(ctx, in, opts...)
}

func (e *EC2Client) AssociateAddress(ctx context.Context, in *ec2.AssociateAddressInput, opts ...func(*ec2.Options)) (*ec2.AssociateAddressOutput, error) {
	return e.associateAddress(ctx, in, opts...)
}

func (e *EC2Client) DescribeAddresses(ctx context.Context, in *ec2.DescribeAddressesInput, opts ...func(*ec2.Options)) (*ec2.DescribeAddressesOutput, error) {
	return e.describeAddresses(ctx, in, opts...)
}

// Route53Client is the part of the Route 53 API the route53 action calls.
type Route53Client struct {
	changeResourceRecordSets func(context.Context, *route53.ChangeResourceRecordSetsInput, ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error)
	listResourceRecordSets   func(context.Context, *route53.ListResourceRecordSetsInput, ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error)
	getChange                func(context.Context, *route53.GetChangeInput, ...func(*route53.Options)) (*route53.GetChangeOutput, error)
}

// NewAWSRoute53Client is NewAWSEC2Client for Route 53.
func NewAWSRoute53Client(cfg aws.Config) *Route53Client {
	c := route53.NewFromConfig(cfg, func(o *route53.Options) { o.Retryer = aws.NopRetryer{} })
	return &Route53Client{
		changeResourceRecordSets: c.ChangeResourceRecordSets,
		listResourceRecordSets:   c.ListResourceRecordSets,
		getChange:                c.GetChange,
	}
}

func (r *Route53Client) ChangeResourceRecordSets(ctx context.Context, in *route53.ChangeResourceRecordSetsInput, opts ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error) {
	return r.changeResourceRecordSets(ctx, in, opts...)
}

func (r *Route53Client) ListResourceRecordSets(ctx context.Context, in *route53.ListResourceRecordSetsInput, opts ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error) {
	return r.listResourceRecordSets(ctx, in, opts...)
}

func (r *Route53Client) GetChange(ctx context.Context, in *route53.GetChangeInput, opts ...func(*route53.Options)) (*route53.GetChangeOutput, error) {
	return r.getChange(ctx, in, opts...)
}

// IMDSClient is the part of the instance metadata client DiscoverAWSInstance
// calls.
type IMDSClient struct {
	getMetadata func(context.Context, *imds.GetMetadataInput, ...func(*imds.Options)) (*imds.GetMetadataOutput, error)
	getRegion   func(context.Context, *imds.GetRegionInput, ...func(*imds.Options)) (*imds.GetRegionOutput, error)
}

// NewAWSIMDSClient wraps c (see NewAWSIMDS).
func NewAWSIMDSClient(c *imds.Client) *IMDSClient {
	return &IMDSClient{
		getMetadata: c.GetMetadata,
		getRegion:   c.GetRegion,
	}
}

// NewAWSIMDS is the IMDSv2 client for endpoint ("" = the default): no
// fallback to tokenless IMDSv1.
func NewAWSIMDS(endpoint string) *imds.Client {
	return imds.New(imds.Options{Endpoint: endpoint, EnableFallback: aws.FalseTernary})
}

func (i *IMDSClient) GetMetadata(ctx context.Context, in *imds.GetMetadataInput, opts ...func(*imds.Options)) (*imds.GetMetadataOutput, error) {
	return i.getMetadata(ctx, in, opts...)
}

func (i *IMDSClient) GetRegion(ctx context.Context, in *imds.GetRegionInput, opts ...func(*imds.Options)) (*imds.GetRegionOutput, error) {
	return i.getRegion(ctx, in, opts...)
}

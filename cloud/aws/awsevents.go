package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"

	"github.com/lbhc/lbhc/cloud"
)

// AWS instance-metadata paths of the notices lbhc watches. Each answers
// 404 while there is no notice.
const (
	awsSpotPath        = "spot/instance-action"
	awsRebalancePath   = "events/recommendations/rebalance"
	awsMaintenancePath = "events/maintenance/scheduled"
)

// AWS notice kinds, as --aws-instance-event-types names them.
const (
	AWSSpot        = "spot"
	AWSRebalance   = "rebalance"
	AWSMaintenance = "maintenance"
)

// ParseAWSSpotAction parses spot/instance-action:
// {"action": "terminate"|"stop"|"hibernate", "time": RFC 3339}.
func ParseAWSSpotAction(body []byte) (cloud.PlatformNotice, error) {
	var doc struct {
		Action string `json:"action"`
		Time   string `json:"time"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Action == "" {
		return cloud.PlatformNotice{}, fmt.Errorf("aws spot instance-action: not a notice: %q", snippet(body))
	}
	n := cloud.PlatformNotice{Source: "aws-spot", ID: doc.Action + "@" + doc.Time, Type: doc.Action}
	n.NotBefore, _ = time.Parse(time.RFC3339, doc.Time)
	return n, nil
}

// ParseAWSRebalance parses events/recommendations/rebalance:
// {"noticeTime": RFC 3339}.
func ParseAWSRebalance(body []byte) (cloud.PlatformNotice, error) {
	var doc struct {
		NoticeTime string `json:"noticeTime"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.NoticeTime == "" {
		return cloud.PlatformNotice{}, fmt.Errorf("aws rebalance recommendation: not a notice: %q", snippet(body))
	}
	// A recommendation has no deadline: the instance is at elevated risk
	// of interruption from now on.
	return cloud.PlatformNotice{Source: "aws-rebalance", ID: doc.NoticeTime, Type: "rebalance"}, nil
}

// awsEventTime is the time format of the maintenance events document
// ("21 Jan 2019 09:00:43 GMT").
const awsEventTime = "2 Jan 2006 15:04:05 MST"

// ParseAWSMaintenance parses events/maintenance/scheduled: a JSON array of
// {"Code","Description","EventId","NotAfter","NotBefore","State"}. Only
// events not yet completed or canceled count.
func ParseAWSMaintenance(body []byte) ([]cloud.PlatformNotice, error) {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, nil
	}
	var doc []struct {
		Code, Description, EventID, NotAfter, NotBefore, State string
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("aws scheduled maintenance: parsing: %w", err)
	}
	var out []cloud.PlatformNotice
	for _, e := range doc {
		switch strings.ToLower(e.State) {
		case "completed", "canceled", "cancelled":
			continue
		}
		if e.EventID == "" {
			continue
		}
		n := cloud.PlatformNotice{Source: "aws-maintenance", ID: e.EventID, Type: e.Code}
		n.NotBefore, _ = time.Parse(awsEventTime, e.NotBefore)
		out = append(out, n)
	}
	return out, nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return s
}

// AWSEventsWatcher polls the EC2 instance metadata service (IMDSv2, through
// the SDK client's token handling) for the notices of Kinds. AWS has no
// acknowledgement: Acknowledge does nothing.
type AWSEventsWatcher struct {
	Client   *imds.Client
	Kinds    []string // AWSSpot, AWSRebalance, AWSMaintenance
	Interval time.Duration
	Log      *slog.Logger
}

// Watch polls until ctx ends, sending the notices whenever they change.
func (w *AWSEventsWatcher) Watch(ctx context.Context, out chan<- cloud.PlatformNotices) {
	log := w.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cloud.PollNotices(ctx, log, w.Interval, w.poll, out)
}

// Acknowledge is a no-op: EC2 offers no way to tell it the instance is ready.
func (w *AWSEventsWatcher) Acknowledge(context.Context, string) error { return nil }

func (w *AWSEventsWatcher) poll(ctx context.Context) (cloud.PlatformNotices, error) {
	var out cloud.PlatformNotices
	for _, k := range w.Kinds {
		path := map[string]string{AWSSpot: awsSpotPath, AWSRebalance: awsRebalancePath, AWSMaintenance: awsMaintenancePath}[k]
		body, err := w.get(ctx, path)
		if errors.Is(err, errNoNotice) {
			continue
		}
		if err != nil {
			return out, err
		}
		switch k {
		case AWSSpot:
			n, err := ParseAWSSpotAction(body)
			if err != nil {
				return out, err
			}
			out.Notices = append(out.Notices, n)
		case AWSRebalance:
			n, err := ParseAWSRebalance(body)
			if err != nil {
				return out, err
			}
			out.Notices = append(out.Notices, n)
		case AWSMaintenance:
			ns, err := ParseAWSMaintenance(body)
			if err != nil {
				return out, err
			}
			out.Notices = append(out.Notices, ns...)
		}
	}
	return out, nil
}

// errNoNotice is a notice path answering 404: EC2 has no such notice now.
var errNoNotice = errors.New("no notice")

// get reads one metadata path; errNoNotice on 404.
func (w *AWSEventsWatcher) get(ctx context.Context, path string) ([]byte, error) {
	res, err := w.Client.GetMetadata(ctx, &imds.GetMetadataInput{Path: path})
	if err != nil {
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
			return nil, errNoNotice
		}
		return nil, fmt.Errorf("instance metadata %s: %w", path, err)
	}
	defer res.Content.Close()
	b, err := io.ReadAll(io.LimitReader(res.Content, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("instance metadata %s: %w", path, err)
	}
	return b, nil
}

// NewAWSEventsWatcher builds a watcher with its own IMDSv2 client for
// endpoint ("" = the SDK's default, http://169.254.169.254).
func NewAWSEventsWatcher(endpoint string, kinds []string, interval time.Duration, log *slog.Logger) *AWSEventsWatcher {
	return &AWSEventsWatcher{
		Client:   imds.New(imds.Options{Endpoint: endpoint, EnableFallback: aws.FalseTernary}),
		Kinds:    kinds,
		Interval: interval,
		Log:      log,
	}
}

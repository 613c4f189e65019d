package azure

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lbhc/lbhc/cloud"
)

// azureEventsAPIVersion is the Scheduled Events API version lbhc asks for;
// it is generally available and has every field lbhc reads (EventSource and
// DurationInSeconds came with it).
const azureEventsAPIVersion = "2020-07-01"

// AzureScheduledEvent is one entry of the Scheduled Events document.
type AzureScheduledEvent struct {
	EventID           string   `json:"EventId"`
	EventType         string   `json:"EventType"` // Freeze, Reboot, Redeploy, Preempt, Terminate
	ResourceType      string   `json:"ResourceType"`
	Resources         []string `json:"Resources"`   // VM names (compute.name)
	EventStatus       string   `json:"EventStatus"` // Scheduled or Started
	NotBefore         string   `json:"NotBefore"`   // RFC 1123 (GMT); "" once started
	Description       string   `json:"Description"`
	EventSource       string   `json:"EventSource"` // Platform or User
	DurationInSeconds int      `json:"DurationInSeconds"`
}

// AzureScheduledEvents is the document GET /metadata/scheduledevents
// returns. DocumentIncarnation grows whenever the event list changes.
type AzureScheduledEvents struct {
	DocumentIncarnation int                   `json:"DocumentIncarnation"`
	Events              []AzureScheduledEvent `json:"Events"`
}

// ParseAzureScheduledEvents parses a Scheduled Events document.
func ParseAzureScheduledEvents(body []byte) (AzureScheduledEvents, error) {
	var doc AzureScheduledEvents
	if err := json.Unmarshal(body, &doc); err != nil {
		return doc, fmt.Errorf("azure scheduled events: parsing document: %w", err)
	}
	return doc, nil
}

// azureDisruptive are the event types after which this VM stops serving
// for a while. Unknown future types are ignored rather than guessed at.
var azureDisruptive = map[string]bool{"Freeze": true, "Reboot": true, "Redeploy": true, "Preempt": true, "Terminate": true}

// AzureNoticesFor selects the events of doc that affect the VM named vm
// (Resources compare case-insensitively, as Azure resource names do).
// Events for other VMs of the availability set or scale set are ignored.
func AzureNoticesFor(doc AzureScheduledEvents, vm string) cloud.PlatformNotices {
	var out cloud.PlatformNotices
	for _, ev := range doc.Events {
		if !azureDisruptive[ev.EventType] || ev.EventID == "" {
			continue
		}
		if ev.ResourceType != "" && ev.ResourceType != "VirtualMachine" {
			continue
		}
		mine := false
		for _, r := range ev.Resources {
			mine = mine || strings.EqualFold(strings.TrimSpace(r), vm)
		}
		if !mine {
			continue
		}
		n := cloud.PlatformNotice{Source: "azure-scheduled-events", ID: ev.EventID, Type: ev.EventType, Ackable: true}
		if t, err := time.Parse(time.RFC1123, ev.NotBefore); err == nil {
			n.NotBefore = t
		}
		out.Notices = append(out.Notices, n)
	}
	return out
}

// AzureEventsWatcher polls Azure Scheduled Events for this VM and
// acknowledges events (StartRequests) so the platform proceeds at once.
type AzureEventsWatcher struct {
	// Endpoint is the IMDS base URL; "" means DefaultAzureIMDSEndpoint.
	Endpoint string
	// Interval between polls (IMDS throttles above about 5 requests/s).
	Interval time.Duration
	// VMName is this VM's compute.name; "" = read from instance metadata.
	VMName string
	Log    *slog.Logger

	clientOnce sync.Once // Watch and Acknowledge run on different goroutines
	client     *http.Client
}

func (w *AzureEventsWatcher) url() string {
	e := w.Endpoint
	if e == "" {
		e = DefaultAzureIMDSEndpoint
	}
	return strings.TrimRight(e, "/") + "/metadata/scheduledevents?api-version=" + azureEventsAPIVersion
}

func (w *AzureEventsWatcher) httpClient() *http.Client {
	w.clientOnce.Do(func() {
		w.client = &http.Client{
			Timeout: 5 * time.Second,
			Transport: &http.Transport{
				Proxy:       nil, // IMDS refuses proxied requests
				DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			},
		}
	})
	return w.client
}

// Watch polls until ctx ends, sending the notices for this VM whenever
// they change. The first request also switches the service on for the VM
// (Azure then delivers events to it; that first answer may be slow).
func (w *AzureEventsWatcher) Watch(ctx context.Context, out chan<- cloud.PlatformNotices) {
	log := w.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cloud.PollNotices(ctx, log, w.Interval, w.poll, out)
}

// poll fetches the document and returns this VM's notices in it; an
// unchanged document gives the same notices, which PollNotices does not
// send again, so an event is acted on once.
func (w *AzureEventsWatcher) poll(ctx context.Context) (cloud.PlatformNotices, error) {
	if w.VMName == "" {
		inst, err := (&AzureIMDS{Endpoint: w.Endpoint, Client: w.httpClient(), Attempts: 1}).Instance(ctx)
		if err != nil {
			return cloud.PlatformNotices{}, fmt.Errorf("learning this VM's name: %w", err)
		}
		if inst.Name == "" {
			return cloud.PlatformNotices{}, fmt.Errorf("instance metadata has no compute.name")
		}
		w.VMName = inst.Name
	}
	body, _, err := azureIMDSGet(ctx, w.httpClient(), w.url())
	if err != nil {
		return cloud.PlatformNotices{}, fmt.Errorf("scheduled events: %w", err)
	}
	doc, err := ParseAzureScheduledEvents(body)
	if err != nil {
		return cloud.PlatformNotices{}, err
	}
	return AzureNoticesFor(doc, w.VMName), nil
}

// Acknowledge tells Azure that this VM is ready for the event (POST
// {"StartRequests":[{"EventId":id}]}); the platform then starts it without
// waiting for NotBefore.
func (w *AzureEventsWatcher) Acknowledge(ctx context.Context, id string) error {
	type start struct {
		EventID string `json:"EventId"`
	}
	body, err := json.Marshal(struct {
		StartRequests []start `json:"StartRequests"`
	}{[]start{{id}}})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("azure scheduled events: %w", err)
	}
	req.Header.Set("Metadata", "true")
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("azure scheduled events: acknowledging %s: %w", id, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("azure scheduled events: acknowledging %s: %s: %s", id, resp.Status, azureSnippet(b))
	}
	return nil
}

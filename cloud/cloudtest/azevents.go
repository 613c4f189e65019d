package cloudtest

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"time"
)

// Scheduled Events on the AzureIMDS fake, written from Microsoft's public
// documentation of GET/POST /metadata/scheduledevents?api-version=…; it is
// not Microsoft code. GET answers {"DocumentIncarnation": n, "Events": [...]};
// n grows with every change of the list. POST takes
// {"StartRequests":[{"EventId":"…"}]}; the fake records each acknowledged
// EventId, marks the event Started (the real platform then starts it) and
// answers 200; a body that does not parse, or names an EventId the document
// does not hold, gets 400. Both need "Metadata: true" and api-version (the
// instance endpoint's checks apply).

// AzureEvent is one scheduled event as the fake publishes it.
type AzureEvent struct {
	EventID           string   `json:"EventId"`
	EventType         string   `json:"EventType"`
	ResourceType      string   `json:"ResourceType"`
	Resources         []string `json:"Resources"`
	EventStatus       string   `json:"EventStatus"`
	NotBefore         string   `json:"NotBefore"`
	Description       string   `json:"Description"`
	EventSource       string   `json:"EventSource"`
	DurationInSeconds int      `json:"DurationInSeconds"`
}

type azureEvents struct {
	incarnation int
	list        []AzureEvent
	acks        []string
	ackAt       []time.Time
}

// NewAzureEvent fills the documented defaults: a platform-initiated event
// for the named VMs, Scheduled, NotBefore lead from now (RFC 1123, GMT).
func NewAzureEvent(id, typ string, lead time.Duration, vms ...string) AzureEvent {
	return AzureEvent{
		EventID: id, EventType: typ, ResourceType: "VirtualMachine", Resources: vms,
		EventStatus: "Scheduled", NotBefore: time.Now().Add(lead).UTC().Format(http.TimeFormat),
		Description: "Virtual machine is going to be " + typ, EventSource: "Platform", DurationInSeconds: -1,
	}
}

// AddEvent publishes ev (a new DocumentIncarnation).
func (f *AzureIMDS) AddEvent(ev AzureEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events.list = append(f.events.list, ev)
	f.events.incarnation++
}

// RemoveEvent withdraws the event (it completed or was cancelled).
func (f *AzureIMDS) RemoveEvent(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events.list = slices.DeleteFunc(f.events.list, func(e AzureEvent) bool { return e.EventID == id })
	f.events.incarnation++
}

// Acks lists the EventIds acknowledged so far, in order.
func (f *AzureIMDS) Acks() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events.acks)
}

// AckTimes are the arrival times of the acknowledgements, as Acks.
func (f *AzureIMDS) AckTimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events.ackAt)
}

// Incarnation is the current DocumentIncarnation.
func (f *AzureIMDS) Incarnation() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.events.incarnation
}

func (f *AzureIMDS) serveEvents(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		f.mu.Lock()
		doc := struct {
			DocumentIncarnation int          `json:"DocumentIncarnation"`
			Events              []AzureEvent `json:"Events"`
		}{f.events.incarnation, append([]AzureEvent{}, f.events.list...)}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(doc)
	case http.MethodPost:
		var req struct {
			StartRequests []struct {
				EventID string `json:"EventId"`
			} `json:"StartRequests"`
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil || json.Unmarshal(body, &req) != nil || len(req.StartRequests) == 0 {
			azureIMDSError(w, http.StatusBadRequest, "Bad request. Body must be {\"StartRequests\":[{\"EventId\":...}]}")
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, s := range req.StartRequests {
			i := slices.IndexFunc(f.events.list, func(e AzureEvent) bool { return e.EventID == s.EventID })
			if i < 0 {
				azureIMDSError(w, http.StatusBadRequest, "Bad request. Unknown EventId "+s.EventID)
				return
			}
		}
		for _, s := range req.StartRequests {
			i := slices.IndexFunc(f.events.list, func(e AzureEvent) bool { return e.EventID == s.EventID })
			f.events.list[i].EventStatus, f.events.list[i].NotBefore = "Started", ""
			f.events.acks = append(f.events.acks, s.EventID)
			f.events.ackAt = append(f.events.ackAt, time.Now())
		}
		f.events.incarnation++
		w.WriteHeader(http.StatusOK)
	default:
		azureIMDSError(w, http.StatusMethodNotAllowed, "Method not allowed")
	}
}

// How the Route 53 fake serves a request: name canonicalisation, the error
// document, and dispatch by path and method.

package cloudtest

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

func (z *r53Zone) find(name, typ, setID string) int {
	return slices.IndexFunc(z.records, func(r R53Record) bool {
		return r.Name == name && r.Type == typ && r.SetIdentifier == setID
	})
}

// r53Canon is a name as Route 53 stores it: lower case, trailing dot.
func r53Canon(s string) string {
	s = strings.ToLower(s)
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// r53SortKey orders names as Route 53 lists them: labels right to left.
func r53SortKey(name string) string {
	labels := strings.Split(strings.TrimSuffix(name, "."), ".")
	slices.Reverse(labels)
	return strings.Join(labels, "\x00")
}

type r53ErrorXML struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

type r53Err struct {
	status        int
	code, message string
}

func r53Fail(status int, code, format string, args ...any) *r53Err {
	return &r53Err{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func (f *Route53) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.seq++
	reqID := fmt.Sprintf("r53-req-%06d", f.seq)
	f.mu.Unlock()
	w.Header().Set("x-amzn-RequestId", reqID)
	writeErr := func(e *r53Err) {
		typ := "Sender"
		if e.status >= 500 {
			typ = "Receiver"
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(e.status)
		b, _ := xml.Marshal(r53ErrorXML{Xmlns: r53XMLNS, Type: typ, Code: e.code, Message: e.message, RequestID: reqID})
		w.Write(append([]byte(xml.Header), b...))
	}
	// Routes: POST|GET /2013-04-01/hostedzone/{id}/rrset, GET /2013-04-01/change/{id}.
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/2013-04-01/"), "/")
	op := ""
	switch {
	case len(parts) == 3 && parts[0] == "hostedzone" && parts[2] == "rrset" && r.Method == http.MethodPost:
		op = "ChangeResourceRecordSets"
	case len(parts) == 3 && parts[0] == "hostedzone" && parts[2] == "rrset" && r.Method == http.MethodGet:
		op = "ListResourceRecordSets"
	case len(parts) == 2 && parts[0] == "change" && r.Method == http.MethodGet:
		op = "GetChange"
	default:
		writeErr(r53Fail(404, "UnknownOperationException", "no operation for %s %s", r.Method, r.URL.Path))
		return
	}
	fault, ok := f.Faults.begin(r, op)
	if !ok {
		return
	}
	if fault != nil {
		if fault.Status == 0 && fault.Code == "" {
			awsHijackClose(w)
			return
		}
		writeErr(&r53Err{status: fault.Status, code: fault.Code, message: fault.Message})
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		writeErr(r53Fail(403, "MissingAuthenticationToken", "Missing Authentication Token"))
		return
	}
	var resp any
	var err *r53Err
	switch op {
	case "ChangeResourceRecordSets":
		body, rerr := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if rerr != nil {
			writeErr(r53Fail(400, "InvalidInput", "reading body: %v", rerr))
			return
		}
		f.mu.Lock()
		resp, err = f.change(parts[1], body)
		f.mu.Unlock()
	case "ListResourceRecordSets":
		f.mu.Lock()
		resp, err = f.list(parts[1], r)
		f.mu.Unlock()
	case "GetChange":
		f.mu.Lock()
		resp, err = f.getChange(parts[1])
		f.mu.Unlock()
	}
	if err != nil {
		writeErr(err)
		return
	}
	b, merr := xml.Marshal(resp)
	if merr != nil {
		writeErr(r53Fail(500, "InternalFailure", "marshal: %v", merr))
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Write(append([]byte(xml.Header), b...))
}

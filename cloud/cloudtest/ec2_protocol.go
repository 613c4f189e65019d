// The EC2 Query protocol of the fake: request dispatch by Action, the error
// document, list and filter parameters.

package cloudtest

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// ec2Error is the EC2 error document.
type ec2Error struct {
	XMLName   xml.Name `xml:"Response"`
	Code      string   `xml:"Errors>Error>Code"`
	Message   string   `xml:"Errors>Error>Message"`
	RequestID string   `xml:"RequestID"`
}

type ec2Err struct {
	status        int
	code, message string
}

func (e *ec2Err) Error() string { return e.code + ": " + e.message }

func ec2Fail(status int, code, format string, args ...any) *ec2Err {
	return &ec2Err{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func (f *EC2) requestID() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", f.seq)
}

func (f *EC2) serve(w http.ResponseWriter, r *http.Request) {
	reqID := f.requestID()
	writeErr := func(e *ec2Err) {
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		w.WriteHeader(e.status)
		b, _ := xml.Marshal(ec2Error{Code: e.code, Message: e.message, RequestID: reqID})
		w.Write(append([]byte(xml.Header), b...))
	}
	if r.Method != http.MethodPost {
		writeErr(ec2Fail(400, "InvalidHttpRequest", "The HTTP request method %s is not supported; use POST.", r.Method))
		return
	}
	if err := r.ParseForm(); err != nil {
		writeErr(ec2Fail(400, "MalformedQueryString", "%v", err))
		return
	}
	action := r.PostForm.Get("Action")
	fault, ok := f.Faults.begin(r, action)
	if !ok {
		return
	}
	if fault != nil {
		if fault.Status == 0 && fault.Code == "" {
			awsHijackClose(w)
			return
		}
		writeErr(&ec2Err{status: fault.Status, code: fault.Code, message: fault.Message})
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		writeErr(ec2Fail(401, "AuthFailure", "AWS was not able to validate the provided access credentials"))
		return
	}
	if r.PostForm.Get("Version") == "" {
		writeErr(ec2Fail(400, "MissingParameter", "The request must contain the parameter Version"))
		return
	}
	form := r.PostForm
	var resp any
	var err *ec2Err
	f.mu.Lock()
	switch action {
	case "DescribeRouteTables":
		resp, err = f.describeRouteTables(form)
	case "ReplaceRoute":
		resp, err = f.putRoute(form, false)
	case "CreateRoute":
		resp, err = f.putRoute(form, true)
	case "DescribeNetworkInterfaces":
		resp, err = f.describeENIs(form)
	case "ModifyNetworkInterfaceAttribute":
		resp, err = f.modifyENI(form)
	case "DescribeAddresses":
		resp, err = f.describeAddresses(form)
	case "AssociateAddress":
		resp, err = f.associateAddress(form)
	default:
		err = ec2Fail(400, "InvalidAction", "The action %s is not valid for this web service.", action)
	}
	f.mu.Unlock()
	if err != nil {
		writeErr(err)
		return
	}
	b, merr := xml.Marshal(resp)
	if merr != nil {
		writeErr(ec2Fail(500, "InternalError", "marshal: %v", merr))
		return
	}
	// Every response element carries the namespace and the request id.
	s := string(b)
	i := strings.IndexByte(s, '>')
	s = s[:i] + ` xmlns="` + ec2XMLNS + `"><requestId>` + reqID + `</requestId>` + s[i+1:]
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Write([]byte(xml.Header + s))
}

// ec2List collects Prefix.1, Prefix.2, … from the form.
func ec2List(form url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := form[prefix+"."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

type ec2Filter struct {
	name   string
	values []string
}

func ec2Filters(form url.Values) []ec2Filter {
	var out []ec2Filter
	for i := 1; ; i++ {
		p := "Filter." + strconv.Itoa(i)
		name, ok := form[p+".Name"]
		if !ok {
			return out
		}
		out = append(out, ec2Filter{name: name[0], values: ec2List(form, p+".Value")})
	}
}

func ec2SameDest(a, b string) bool {
	pa, err1 := netip.ParsePrefix(a)
	pb, err2 := netip.ParsePrefix(b)
	return err1 == nil && err2 == nil && pa.Masked() == pb.Masked()
}

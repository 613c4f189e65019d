package probe

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// maxRequest bounds the request head we read (bytes): probes send a short
// GET; anything longer is not a probe.
const maxRequest = 8 << 10

var errBadRequest = errors.New("malformed HTTP request")

// serveHTTP answers an HTTP probe (Azure LB HTTP probe, Traffic Manager,
// Front Door, AWS NLB/ALB health checks): any GET or HEAD path gets 200 with
// the message from the leader and 503 from a follower in 503 mode. One
// request per connection, so every request passes the accept-time
// leadership check.
func serveHTTP(c net.Conn, leading bool, cfg *Config) error {
	method, err := readRequestHead(c)
	if err != nil {
		writeHTTP(c, 400, "Bad Request", "bad request\n", false, cfg.NodeID)
		return err
	}
	head := method == "HEAD"
	switch {
	case method != "GET" && !head:
		writeHTTP(c, 405, "Method Not Allowed", "GET or HEAD only\n", false, cfg.NodeID)
	case leading:
		body := cfg.Message
		if body == "" {
			body = "leader\n"
		}
		_, err = writeHTTP(c, 200, "OK", body, head, cfg.NodeID)
	default:
		_, err = writeHTTP(c, 503, "Service Unavailable", "standby\n", head, cfg.NodeID)
	}
	return err
}

// readRequestHead reads up to the blank line ending the request head and
// returns the method.
func readRequestHead(c net.Conn) (string, error) {
	buf := make([]byte, 0, 512)
	tmp := make([]byte, 512)
	for {
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if i := bytes.Index(buf, []byte("\r\n\r\n")); i >= 0 {
			return parseRequestLine(buf[:i])
		}
		if i := bytes.Index(buf, []byte("\n\n")); i >= 0 {
			return parseRequestLine(buf[:i])
		}
		if len(buf) > maxRequest {
			return "", fmt.Errorf("%w: head longer than %d bytes", errBadRequest, maxRequest)
		}
		if err != nil {
			return "", err
		}
	}
}

// parseRequestLine extracts the method of "METHOD SP target SP HTTP/1.x".
func parseRequestLine(head []byte) (string, error) {
	line, _, _ := strings.Cut(string(head), "\n")
	line = strings.TrimSuffix(line, "\r")
	parts := strings.Split(line, " ")
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "HTTP/1.") || parts[0] == "" || parts[1] == "" {
		return "", fmt.Errorf("%w: request line %q", errBadRequest, line)
	}
	return parts[0], nil
}

func writeHTTP(c net.Conn, code int, reason, body string, head bool, node string) (int, error) {
	var b strings.Builder
	b.WriteString("HTTP/1.1 " + strconv.Itoa(code) + " " + reason + "\r\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	b.WriteString("Cache-Control: no-store\r\nConnection: close\r\n")
	if node != "" {
		b.WriteString("X-Lbhc-Node: " + node + "\r\n")
	}
	b.WriteString("\r\n")
	if !head {
		b.WriteString(body)
	}
	return c.Write([]byte(b.String()))
}

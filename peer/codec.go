package peer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"time"
)

// The wire format: one message per UDP datagram, a fixed binary layout
// (integers big-endian, strings length-prefixed by one byte), then an
// HMAC-SHA256 over every byte before it.
//
//	version   1   wireVersion
//	kind      1   Kind
//	group     1+G the lease name (1..MaxGroupLen)
//	from      1+S sender id (1..MaxIDLen)
//	to        1+R recipient id (1..MaxIDLen)
//	seq       8   sender's sequence = its wall clock, unix ns (freshness)
//	reqID     8
//	term      8
//	until     8   int64 ns, >= 0
//	role      1+L (0..maxRoleLen)
//	target    1+T (0..MaxIDLen)
//	mac       32  HMAC-SHA256(key, everything above)
const (
	wireVersion = 1
	// MaxDatagram is the largest datagram a node sends or accepts (bytes):
	// small enough never to be fragmented on any path (IPv6's minimum
	// MTU is 1280).
	MaxDatagram = 512
	// MaxGroupLen and MaxIDLen bound the group (lease) name and node ids
	// (bytes), so every message fits MaxDatagram.
	MaxGroupLen = 128
	MaxIDLen    = 64
	maxRoleLen  = 16
	macLen      = sha256.Size
	// minDatagram is a message with every string empty or one byte long.
	minDatagram = 2 + 2 + 2 + 2 + 4*8 + 1 + 1 + macLen
)

// Kind is what a message says.
type Kind uint8

const (
	// Status is the heartbeat: the sender's role and term.
	Status Kind = iota + 1
	// PromiseRequest asks the recipient not to acquire for Until.
	PromiseRequest
	// PromiseGrant answers a PromiseRequest: the recipient will not
	// acquire for Until, counted from its receipt of the request.
	PromiseGrant
	// PromiseRefuse answers a PromiseRequest: no promise.
	PromiseRefuse
	// Handover asks Target to acquire the lease now.
	Handover
	kindEnd
)

var kindNames = [...]string{"", "status", "promise_request", "promise_grant", "promise_refuse", "handover"}

// String is the kind's metric label value.
func (k Kind) String() string {
	if k == 0 || k >= kindEnd {
		return "unknown"
	}
	return kindNames[k]
}

// Message is what the channel carries. The envelope (group, sender,
// recipient, sequence) is the node's business, not the caller's.
type Message struct {
	Kind  Kind
	ReqID uint64 // a reply carries the request's ReqID; Request sets it
	Term  uint64 // sender's current term (0 if none)
	Role  string // "leader" | "follower" | "standby" (at most 16 bytes)
	// Until: PromiseRequest: the duration asked; PromiseGrant: the
	// duration granted, counted from the recipient's receipt.
	Until  time.Duration
	Target string // Handover: the node asked to acquire now
}

// envelope is what the node adds around a Message.
type envelope struct {
	group, from, to string
	seq             uint64
}

// encode writes e and m followed by the MAC into buf (at least
// MaxDatagram long) and returns the datagram. mac is a keyed HMAC whose
// state encode resets. It fails only when a string is too long.
func encode(buf []byte, mac hash.Hash, e envelope, m Message) ([]byte, error) {
	switch {
	case len(e.group) == 0 || len(e.group) > MaxGroupLen, len(e.from) == 0 || len(e.from) > MaxIDLen,
		len(e.to) == 0 || len(e.to) > MaxIDLen:
		return nil, errEnvelope
	case len(m.Role) > maxRoleLen || len(m.Target) > MaxIDLen || m.Until < 0 || m.Kind == 0 || m.Kind >= kindEnd:
		return nil, errMessage
	}
	b := buf[:0]
	b = append(b, wireVersion, byte(m.Kind))
	b = appendStr(b, e.group)
	b = appendStr(b, e.from)
	b = appendStr(b, e.to)
	b = binary.BigEndian.AppendUint64(b, e.seq)
	b = binary.BigEndian.AppendUint64(b, m.ReqID)
	b = binary.BigEndian.AppendUint64(b, m.Term)
	b = binary.BigEndian.AppendUint64(b, uint64(m.Until))
	b = appendStr(b, m.Role)
	b = appendStr(b, m.Target)
	mac.Reset()
	mac.Write(b)
	return mac.Sum(b), nil
}

func appendStr(b []byte, s string) []byte {
	return append(append(b, byte(len(s))), s...)
}

// frame is a datagram split into its fields without copying: the byte
// slices point into the receive buffer.
type frame struct {
	kind                    Kind
	group, from, to         []byte
	seq, reqID, term, until uint64
	role, target            []byte
	body, mac               []byte // body: everything the MAC covers
}

// parse splits a datagram into its fields. It checks the layout only
// (lengths, version, kind, bounds), not the MAC: it allocates nothing, so a
// junk datagram costs a few comparisons.
func parse(b []byte) (frame, bool) {
	var f frame
	if len(b) < minDatagram || len(b) > MaxDatagram || b[0] != wireVersion {
		return f, false
	}
	f.kind = Kind(b[1])
	if f.kind == 0 || f.kind >= kindEnd {
		return f, false
	}
	body := b[:len(b)-macLen]
	r := reader{b: body, off: 2}
	f.group = r.str(1, MaxGroupLen)
	f.from = r.str(1, MaxIDLen)
	f.to = r.str(1, MaxIDLen)
	f.seq = r.u64()
	f.reqID = r.u64()
	f.term = r.u64()
	f.until = r.u64()
	f.role = r.str(0, maxRoleLen)
	f.target = r.str(0, MaxIDLen)
	if r.bad || r.off != len(body) || int64(f.until) < 0 {
		return f, false
	}
	f.body, f.mac = body, b[len(body):]
	return f, true
}

// reader reads fields in order; the first out-of-bounds read sets bad and
// every later read returns zero values.
type reader struct {
	b   []byte
	off int
	bad bool
}

func (r *reader) str(minLen, maxLen int) []byte {
	if r.bad || r.off >= len(r.b) {
		r.bad = true
		return nil
	}
	n := int(r.b[r.off])
	if n < minLen || n > maxLen || r.off+1+n > len(r.b) {
		r.bad = true
		return nil
	}
	s := r.b[r.off+1 : r.off+1+n]
	r.off += 1 + n
	return s
}

func (r *reader) u64() uint64 {
	if r.bad || r.off+8 > len(r.b) {
		r.bad = true
		return 0
	}
	v := binary.BigEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v
}

// verifier checks MACs against every configured key with no allocation:
// one HMAC state per key, reset per datagram, and one scratch sum. It
// belongs to one goroutine (the receive loop).
type verifier struct {
	macs []hash.Hash
	sum  [macLen]byte
}

func newVerifier(keys [][]byte) *verifier {
	v := &verifier{}
	for _, k := range keys {
		v.macs = append(v.macs, hmac.New(sha256.New, k))
	}
	return v
}

// verify reports whether some key's MAC over f.body equals f.mac (in
// constant time per key).
func (v *verifier) verify(f *frame) bool {
	ok := false
	for _, h := range v.macs {
		h.Reset()
		h.Write(f.body)
		ok = hmac.Equal(h.Sum(v.sum[:0]), f.mac) || ok
	}
	return ok
}

// message is the frame's content as a Message. Called only after the MAC
// verified, so the strings it allocates are paid by authenticated peers.
func (f *frame) message() Message {
	return Message{
		Kind: f.kind, ReqID: f.reqID, Term: f.term, Until: time.Duration(f.until),
		Role: role(f.role), Target: string(f.target),
	}
}

// role interns the three known roles (no allocation for them).
func role(b []byte) string {
	switch string(b) {
	case "":
		return ""
	case "leader":
		return "leader"
	case "follower":
		return "follower"
	case "standby":
		return "standby"
	}
	return string(b)
}

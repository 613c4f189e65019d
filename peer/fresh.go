package peer

import "time"

// reason is why a datagram was refused: the label of
// lbhc_peer_messages_refused_total.
type reason uint8

const (
	accepted reason = iota
	reasonMalformed
	reasonOversize
	reasonBadMAC
	reasonWrongGroup
	reasonWrongRecipient
	reasonUnknownSender
	reasonReplayed
	reasonStale
	reasonEnd
)

var reasonNames = [...]string{"", "malformed", "oversize", "bad_mac", "wrong_group", "wrong_recipient",
	"unknown_sender", "replayed", "stale"}

func (r reason) String() string { return reasonNames[r] }

// DefaultMaxSkew is how far a message's timestamp may be from the
// receiver's wall clock, either way. It bounds both the clock difference
// two nodes tolerate and how long a captured message could be replayed to
// a receiver that restarted (it keeps no state across restarts).
const DefaultMaxSkew = 5 * time.Second

// nextSeq is the sender's next sequence: its wall clock in unix ns, or
// last+1 when the clock has not moved on (or stepped back), so sequences
// strictly increase without being persisted: after a restart the clock
// has moved past every sequence sent before.
func nextSeq(last uint64, now time.Time) uint64 {
	s := uint64(now.UnixNano())
	if s <= last {
		return last + 1
	}
	return s
}

// fresh decides whether sequence seq from a sender whose last accepted
// sequence is last may be accepted at wall-clock time now. A sequence is
// also the send time, so one comparison refuses replays and old messages
// alike, and a second refuses timestamps beyond maxSkew in either
// direction (a sender whose clock is wrong, or a message held back).
func fresh(last, seq uint64, now time.Time, maxSkew time.Duration) reason {
	if seq <= last {
		return reasonReplayed
	}
	d := int64(seq) - now.UnixNano()
	if int64(seq) < 0 || d > int64(maxSkew) || d < -int64(maxSkew) {
		return reasonStale
	}
	return accepted
}

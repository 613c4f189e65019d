//go:build linux

package probe

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// runSourceFilter interprets the instructions sourceFilter emits on an IP
// packet (network header first), as the kernel would: it returns true
// when the program falls through to the deadline check (source allowed)
// and false when it exits with 0 (drop).
func runSourceFilter(t *testing.T, prog []bpfInsn, pkt []byte) bool {
	t.Helper()
	const skfNetOff = -0x100000
	var r [11]uint64
	r[1] = 1 // the context (skb) pointer, as the kernel passes it
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		dst, src := in.regs&0xf, in.regs>>4
		jump := func(cond bool) {
			if cond {
				pc += int(in.off)
			}
		}
		switch in.code {
		case 0xbf: // mov64 reg
			r[dst] = r[src]
		case 0xb7: // mov64 imm
			r[dst] = uint64(int64(in.imm))
		case 0x30, 0x20: // ld_abs B / W
			if r[6] != 1 {
				t.Fatal("packet load without the context in r6")
			}
			off := int(in.imm) - skfNetOff
			size := 1
			if in.code == 0x20 {
				size = 4
			}
			if off < 0 || off+size > len(pkt) {
				return false // the kernel ends the program with 0
			}
			if size == 1 {
				r[0] = uint64(pkt[off])
			} else {
				r[0] = uint64(binary.BigEndian.Uint32(pkt[off:]))
			}
		case 0x77: // rsh64 imm
			r[dst] >>= uint(in.imm)
		case 0x54: // and32 imm
			r[dst] = uint64(uint32(r[dst]) & uint32(in.imm))
		case 0x15: // jeq64 imm
			jump(r[dst] == uint64(int64(in.imm)))
		case 0x16: // jeq32 imm
			jump(uint32(r[dst]) == uint32(in.imm))
		case 0x56: // jne32 imm
			jump(uint32(r[dst]) != uint32(in.imm))
		case 0x05: // ja
			jump(true)
		case 0x95: // exit
			if r[0] != 0 {
				t.Fatal("source filter exits with a non-zero verdict")
			}
			return false
		default:
			t.Fatalf("unexpected opcode %#x at %d", in.code, pc)
		}
		if pc+1 < 0 || pc+1 > len(prog) {
			t.Fatalf("jump out of the program at %d", pc)
		}
	}
	return true
}

func packetFrom(a netip.Addr) []byte {
	if a.Is4() {
		p := make([]byte, 40)
		p[0] = 0x45
		b := a.As4()
		copy(p[12:], b[:])
		return p
	}
	p := make([]byte, 60)
	p[0] = 0x60
	b := a.As16()
	copy(p[8:], b[:])
	return p
}

// The emitted program admits exactly the sources netip.Prefix.Contains
// admits, for random addresses near and inside the ranges.
func TestSourceFilterSemantics(t *testing.T) {
	if p := sourceFilter(nil); len(p) != 0 {
		t.Fatalf("no ranges: %d instructions, want none", len(p))
	}
	allow := []netip.Prefix{
		netip.MustParsePrefix("168.63.129.16/32"), netip.MustParsePrefix("35.191.0.0/16"),
		netip.MustParsePrefix("130.211.0.0/22"), netip.MustParsePrefix("2001:db8:a::/48"),
		netip.MustParsePrefix("2001:db8:b::7/128"), netip.MustParsePrefix("fd00::/7"),
	}
	prog := sourceFilter(allow)
	rng := rand.New(rand.NewPCG(1, 2))
	var cands []netip.Addr
	for _, p := range allow {
		base := p.Addr().AsSlice()
		for range 200 {
			b := append([]byte(nil), base...)
			// Flip a few bits, mostly near the prefix boundary.
			for range 1 + rng.IntN(3) {
				bit := min(max(p.Bits()-4+rng.IntN(8), 0), len(b)*8-1)
				if rng.IntN(3) == 0 {
					bit = rng.IntN(len(b) * 8)
				}
				b[bit/8] ^= 0x80 >> (bit % 8)
			}
			a, _ := netip.AddrFromSlice(b)
			cands = append(cands, a)
		}
		cands = append(cands, p.Addr())
	}
	allowed := 0
	for _, a := range cands {
		want := false
		for _, p := range allow {
			want = want || p.Contains(a)
		}
		if got := runSourceFilter(t, prog, packetFrom(a)); got != want {
			t.Fatalf("source %s: filter admits=%v, want %v", a, got, want)
		}
		if want {
			allowed++
		}
	}
	if allowed == 0 || allowed == len(cands) {
		t.Fatalf("degenerate sample: %d of %d allowed", allowed, len(cands))
	}
	// Neither IPv4 nor IPv6, or a truncated header: dropped.
	if runSourceFilter(t, prog, []byte{0x50, 0, 0, 0}) || runSourceFilter(t, prog, []byte{0x45, 0}) {
		t.Fatal("a non-IP or truncated packet passed")
	}
	// Only IPv4 ranges: every IPv6 source is dropped.
	v4only := sourceFilter(allow[:1])
	if runSourceFilter(t, v4only, packetFrom(netip.MustParseAddr("2001:db8:a::1"))) {
		t.Fatal("IPv6 source passed an IPv4-only filter")
	}
}

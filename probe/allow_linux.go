//go:build linux

package probe

import (
	"encoding/binary"
	"net/netip"
)

// sourceFilter returns the instructions that go before the deadline fence
// (fenceProgram) when --probe-allow is set: a packet whose source address
// is in none of the allowed ranges is dropped in the kernel — a SYN from
// elsewhere never completes a handshake, never takes a backlog slot and
// never wakes lbhc. A packet that matches falls through to the deadline
// check. With no ranges it is empty (allow all).
//
// The source is read with the classic packet loads (BPF_LD|BPF_ABS)
// relative to the network header (SKF_NET_OFF): socket filters may not
// read __sk_buff's address fields. The loads need the context in r6 and
// return the value in host order in r0; a load past the packet ends the
// program with 0 (drop).
func sourceFilter(allow []netip.Prefix) []bpfInsn {
	if len(allow) == 0 {
		return nil
	}
	const (
		skfNetOff  = -0x100000
		opLdAbsB   = 0x30 // BPF_LD|BPF_ABS|BPF_B
		opLdAbsW   = 0x20 // BPF_LD|BPF_ABS|BPF_W
		opRsh64Imm = 0x77
		opAnd32Imm = 0x54
		opMov64Reg = 0xbf
		opJeq64Imm = 0x15
		opJeq32Imm = 0x16 // BPF_JMP32: compares the low 32 bits, imm not sign-extended into the high half
		opJne32Imm = 0x56
		opJa       = 0x05
		r0, r1, r6 = 0, 1, 6
		r7, r8, r9 = 7, 8, 9
	)
	var v4, v6 []netip.Prefix
	for _, p := range allow {
		p = p.Masked() // the comparisons are (source & mask) == address
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	a := &asm{}
	a.op(insn(opMov64Reg, r6, r1, 0, 0)) // r6 = ctx (the packet loads need it there)
	a.op(insn(opLdAbsB, 0, 0, 0, skfNetOff))
	a.op(insn(opRsh64Imm, r0, 0, 0, 4)) // r0 = IP version
	a.jump(insn(opJeq64Imm, r0, 0, 0, 4), "v4")
	a.jump(insn(opJeq64Imm, r0, 0, 0, 6), "v6")
	a.jump(insn(opJa, 0, 0, 0, 0), "drop")

	a.label("v4")
	a.op(insn(opLdAbsW, 0, 0, 0, skfNetOff+12)) // r0 = saddr
	for _, p := range v4 {
		b := p.Addr().As4()
		a.op(insn(opMov64Reg, r1, r0, 0, 0))
		a.op(insn(opAnd32Imm, r1, 0, 0, int32(mask32(p.Bits()))))
		a.jump(insn(opJeq32Imm, r1, 0, 0, int32(binary.BigEndian.Uint32(b[:]))), "ok")
	}
	a.jump(insn(opJa, 0, 0, 0, 0), "drop")

	a.label("v6")
	if len(v6) > 0 {
		// r7, r8, r9, r0 = the four words of saddr (r6-r9 survive the loads).
		a.op(insn(opLdAbsW, 0, 0, 0, skfNetOff+8))
		a.op(insn(opMov64Reg, r7, r0, 0, 0))
		a.op(insn(opLdAbsW, 0, 0, 0, skfNetOff+12))
		a.op(insn(opMov64Reg, r8, r0, 0, 0))
		a.op(insn(opLdAbsW, 0, 0, 0, skfNetOff+16))
		a.op(insn(opMov64Reg, r9, r0, 0, 0))
		a.op(insn(opLdAbsW, 0, 0, 0, skfNetOff+20))
		words := []uint8{r7, r8, r9, r0}
		for i, p := range v6 {
			next := "v6next" + string(rune('a'+i%26)) + string(rune('a'+i/26))
			b := p.Addr().As16()
			for w, reg := range words {
				bits := min(max(p.Bits()-32*w, 0), 32)
				if bits == 0 {
					continue
				}
				a.op(insn(opMov64Reg, r1, reg, 0, 0))
				a.op(insn(opAnd32Imm, r1, 0, 0, int32(mask32(bits))))
				a.jump(insn(opJne32Imm, r1, 0, 0, int32(binary.BigEndian.Uint32(b[4*w:]))), next)
			}
			a.jump(insn(opJa, 0, 0, 0, 0), "ok")
			a.label(next)
		}
	}
	a.label("drop")
	a.op(insn(0xb7, r0, 0, 0, 0)) // r0 = 0: drop
	a.op(insn(0x95, 0, 0, 0, 0))
	a.label("ok")
	return a.resolve()
}

func mask32(bits int) uint32 {
	if bits <= 0 {
		return 0
	}
	return ^uint32(0) << (32 - bits)
}

// asm is a tiny assembler: jumps name a label, resolved to relative
// offsets at the end. A label at the end is the first instruction after
// the returned block.
type asm struct {
	prog   []bpfInsn
	fixups map[int]string
	labels map[string]int
}

func (a *asm) op(i bpfInsn) { a.prog = append(a.prog, i) }

func (a *asm) jump(i bpfInsn, to string) {
	if a.fixups == nil {
		a.fixups = map[int]string{}
	}
	a.fixups[len(a.prog)] = to
	a.prog = append(a.prog, i)
}

func (a *asm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.prog)
}

func (a *asm) resolve() []bpfInsn {
	for at, to := range a.fixups {
		target, ok := a.labels[to]
		if !ok {
			panic("probe: bpf label " + to + " undefined")
		}
		a.prog[at].off = int16(target - at - 1)
	}
	return a.prog
}

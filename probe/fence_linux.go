//go:build linux

package probe

import (
	"fmt"
	"net/netip"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernelFence is a socket filter (eBPF) on the probe listener that drops
// every incoming packet — SYNs included — once the leadership deadline in
// its map has passed on CLOCK_MONOTONIC. It keeps the promise "no answer
// after the deadline" in the kernel itself, so it holds even while lbhc is
// frozen (SIGSTOP, a VM pause) and cannot run its own deadline check: a
// frozen process's kernel would otherwise go on completing TCP handshakes,
// which is all an Azure LB or NLB TCP probe looks at.
type kernelFence struct {
	mapFD  int
	progFD int
}

// BPF instruction, as the kernel's struct bpf_insn.
type bpfInsn struct {
	code uint8
	regs uint8 // dst (low 4 bits) | src (high 4 bits)
	off  int16
	imm  int32
}

func insn(code uint8, dst, src uint8, off int16, imm int32) bpfInsn {
	return bpfInsn{code: code, regs: dst | src<<4, off: off, imm: imm}
}

// fenceProgram returns: accept the whole packet while ktime_get_ns() <
// map[0], else drop it (return 0).
func fenceProgram(mapFD int) []bpfInsn {
	const (
		callKtimeGetNs     = 5 // BPF_FUNC_ktime_get_ns
		callMapLookupElem  = 1 // BPF_FUNC_map_lookup_elem
		opCall             = 0x85
		opMov64Reg         = 0xbf
		opMov64Imm         = 0xb7
		opAdd64Imm         = 0x07
		opStMem32          = 0x62
		opLdxMem64         = 0x79
		opLdImm64          = 0x18
		opJeqImm           = 0x15
		opJgeReg           = 0x3d
		opExit             = 0x95
		r0, r1, r2, r6, fp = 0, 1, 2, 6, 10
	)
	return []bpfInsn{
		insn(opCall, 0, 0, 0, callKtimeGetNs),                        // r0 = now (ns, monotonic)
		insn(opMov64Reg, r6, r0, 0, 0),                               // r6 = now
		insn(opStMem32, fp, 0, -4, 0),                                // *(u32 *)(fp-4) = 0 (key)
		insn(opMov64Reg, r2, fp, 0, 0),                               // r2 = fp
		insn(opAdd64Imm, r2, 0, 0, -4),                               // r2 = &key
		insn(opLdImm64, r1, unix.BPF_PSEUDO_MAP_FD, 0, int32(mapFD)), // r1 = map
		insn(0, 0, 0, 0, 0),                                          // (second half of ld_imm64)
		insn(opCall, 0, 0, 0, callMapLookupElem),                     // r0 = &map[0]
		insn(opJeqImm, r0, 0, 4, 0),                                  // if r0 == nil goto drop
		insn(opLdxMem64, r1, r0, 0, 0),                               // r1 = deadline
		insn(opJgeReg, r6, r1, 2, 0),                                 // if now >= deadline goto drop
		insn(opMov64Imm, r0, 0, 0, -1),                               // keep the whole packet
		insn(opExit, 0, 0, 0, 0),
		insn(opMov64Imm, r0, 0, 0, 0), // drop:
		insn(opExit, 0, 0, 0, 0),
	}
}

func bpf(cmd int, attr unsafe.Pointer, size uintptr) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// newKernelFence creates the map and loads the program: the source filter
// for allow (none when empty), then the deadline check. It needs CAP_BPF
// or CAP_SYS_ADMIN (lbhc runs as root or with them).
func newKernelFence(allow []netip.Prefix) (*kernelFence, error) {
	mapAttr := struct {
		mapType, keySize, valueSize, maxEntries, flags uint32
	}{unix.BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0}
	mapFD, err := bpf(unix.BPF_MAP_CREATE, unsafe.Pointer(&mapAttr), unsafe.Sizeof(mapAttr))
	if err != nil {
		return nil, fmt.Errorf("bpf map create: %w", err)
	}
	prog := append(sourceFilter(allow), fenceProgram(mapFD)...)
	license := []byte("GPL\x00")
	logBuf := make([]byte, 4096)
	progAttr := struct {
		progType, insnCnt uint32
		insns, license    uint64
		logLevel, logSize uint32
		logBuf            uint64
		kernVersion       uint32
		_                 uint32
	}{
		progType: unix.BPF_PROG_TYPE_SOCKET_FILTER, insnCnt: uint32(len(prog)),
		insns: uint64(uintptr(unsafe.Pointer(&prog[0]))), license: uint64(uintptr(unsafe.Pointer(&license[0]))),
		logLevel: 1, logSize: uint32(len(logBuf)), logBuf: uint64(uintptr(unsafe.Pointer(&logBuf[0]))),
	}
	progFD, err := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&progAttr), unsafe.Sizeof(progAttr))
	runtime.KeepAlive(prog)
	runtime.KeepAlive(license)
	if err != nil {
		unix.Close(mapFD)
		return nil, fmt.Errorf("bpf program load: %w (verifier: %s)", err, cstring(logBuf))
	}
	f := &kernelFence{mapFD: mapFD, progFD: progFD}
	if err := f.setMono(0); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// attach installs the filter on a socket.
func (f *kernelFence) attach(fd int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ATTACH_BPF, f.progFD); err != nil {
		return fmt.Errorf("SO_ATTACH_BPF: %w", err)
	}
	return nil
}

// set stores the deadline. A zero time closes the fence at once.
func (f *kernelFence) set(deadline time.Time) error {
	if deadline.IsZero() {
		return f.setMono(0)
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return fmt.Errorf("clock_gettime: %w", err)
	}
	left := time.Until(deadline)
	if left < 0 {
		left = 0
	}
	// Go's monotonic clock is CLOCK_MONOTONIC, bpf_ktime_get_ns too; the
	// conversion only adds the few nanoseconds between the two reads, on
	// the early (safe) side.
	return f.setMono(uint64(ts.Nano()) + uint64(left))
}

func (f *kernelFence) setMono(ns uint64) error {
	key := uint32(0)
	attr := struct {
		mapFD uint32
		_     uint32
		key   uint64
		value uint64
		flags uint64
	}{mapFD: uint32(f.mapFD), key: uint64(uintptr(unsafe.Pointer(&key))), value: uint64(uintptr(unsafe.Pointer(&ns)))}
	_, err := bpf(unix.BPF_MAP_UPDATE_ELEM, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(&key)
	runtime.KeepAlive(&ns)
	if err != nil {
		return fmt.Errorf("bpf map update: %w", err)
	}
	return nil
}

func (f *kernelFence) close() {
	unix.Close(f.progFD)
	unix.Close(f.mapFD)
}

// loadFence loads the kernel fence for a Server.
func loadFence(allow []netip.Prefix) (deadlineFence, error) {
	f, err := newKernelFence(allow)
	if err != nil {
		return nil, err
	}
	return f, nil
}

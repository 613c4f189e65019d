//go:build linux

package cmdline

import (
	"bytes"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// dropExecutablePages unmaps from this process the pages of its own
// executable's read-only segments (code, read-only data, function tables)
// that are resident, so that only what runs afterwards comes back.
//
// Why: start-up (package initialisation of every SDK, flag parsing, backend
// set-up) touches code all over the binary, and the kernel maps file pages
// around each fault (fault-around, large page-cache folios): an idle node
// kept about 18 MiB of the 25 MiB binary resident although its idle loop
// runs a small part of it (BENCHMARKS.md, "Idle resources"). The pages stay
// in the page cache; touching one again is a minor fault. Writable mappings
// (data, bss, heap) are never touched: MADV_DONTNEED would discard them.
func dropExecutablePages() error {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return err
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return err
	}
	for line := range bytes.Lines(maps) {
		// start-end perms offset dev inode path
		f := bytes.Fields(line)
		if len(f) < 6 || string(f[5]) != exe || len(f[1]) < 2 || f[1][1] == 'w' {
			continue
		}
		start, end, ok := bytes.Cut(f[0], []byte("-"))
		if !ok {
			continue
		}
		lo, err1 := strconv.ParseUint(string(start), 16, 64)
		hi, err2 := strconv.ParseUint(string(end), 16, 64)
		if err1 != nil || err2 != nil || hi <= lo {
			continue
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(lo), uintptr(hi-lo), unix.MADV_DONTNEED); errno != 0 {
			return fmt.Errorf("madvise %s: %w", f[0], errno)
		}
	}
	return nil
}

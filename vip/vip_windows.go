package vip

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

const (
	// defaultLoopback is the interface for --vip-mode loopback when
	// --vip-interface is not given.
	defaultLoopback   = "Loopback Pseudo-Interface 1"
	interfaceByIndex  = true // --vip-interface may be an alias or an index
	interfaceFoldCase = true // aliases compare case-insensitively
)

var (
	modiphlpapi                         = windows.NewLazySystemDLL("iphlpapi.dll")
	procInitializeUnicastIpAddressEntry = modiphlpapi.NewProc("InitializeUnicastIpAddressEntry")
	procCreateUnicastIpAddressEntry     = modiphlpapi.NewProc("CreateUnicastIpAddressEntry")
	procDeleteUnicastIpAddressEntry     = modiphlpapi.NewProc("DeleteUnicastIpAddressEntry")
)

// Error codes from winerror.h.
const (
	errorNotFound            = syscall.Errno(1168) // ERROR_NOT_FOUND
	errorObjectAlreadyExists = syscall.Errno(5010) // ERROR_OBJECT_ALREADY_EXISTS
)

// MIB_IF_ROW2 InterfaceAndOperStatusFlags bit for NDIS filter interfaces,
// which share the alias of the adapter they filter.
const ifFilterInterface = 0x02

// Row sizes and the offset of the first row in MIB_UNICASTIPADDRESS_TABLE
// (a ULONG count, then 8-byte aligned rows).
const (
	unicastRowSize     = 80
	unicastTableOffset = 8
)

// The row must be exactly the C size (see also TestUnicastRowLayout).
var (
	_ [unicastRowSize - unsafe.Sizeof(mibUnicastIPAddressRow{})]byte
	_ [unsafe.Sizeof(mibUnicastIPAddressRow{}) - unicastRowSize]byte
)

// windowsPlatform manages addresses through IP Helper. viaDAD is set when
// --garp-count is above 0 in nic mode: the address then goes through
// Windows' duplicate address detection, which announces it on the link;
// otherwise it is usable at once.
type windowsPlatform struct{ viaDAD bool }

func newPlatform(announce bool, _ *slog.Logger) (platform, error) {
	if err := modiphlpapi.Load(); err != nil {
		return nil, err
	}
	return windowsPlatform{viaDAD: announce}, nil
}

func (windowsPlatform) close() error { return nil }

func (windowsPlatform) links() ([]link, error) {
	var tab *windows.MibIfTable2
	if err := windows.GetIfTable2Ex(windows.MibIfTableNormalWithoutStatistics, &tab); err != nil {
		return nil, fmt.Errorf("GetIfTable2Ex: %w", err)
	}
	defer windows.FreeMibTable(unsafe.Pointer(tab))
	rows := unsafe.Slice(&tab.Table[0], tab.NumEntries)
	out := make([]link, 0, len(rows))
	for i := range rows {
		r := &rows[i]
		if r.InterfaceAndOperStatusFlags&ifFilterInterface != 0 {
			continue
		}
		out = append(out, link{
			Name:         windows.UTF16ToString(r.Alias[:]),
			Index:        int(r.InterfaceIndex),
			LUID:         r.InterfaceLuid,
			HardwareAddr: append([]byte(nil), r.PhysicalAddress[:min(r.PhysicalAddressLength, windows.IF_MAX_PHYS_ADDRESS_LENGTH)]...),
		})
	}
	return out, nil
}

func (p windowsPlatform) addrs() ([]hostAddr, error) {
	links, err := p.links()
	if err != nil {
		return nil, err
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Index] = l.Name
	}
	var tab *windows.MibUnicastIpAddressTable
	if err := windows.GetUnicastIpAddressTable(windows.AF_UNSPEC, &tab); err != nil {
		return nil, fmt.Errorf("GetUnicastIpAddressTable: %w", err)
	}
	defer windows.FreeMibTable(unsafe.Pointer(tab))
	rows := unsafe.Slice((*mibUnicastIPAddressRow)(unsafe.Add(unsafe.Pointer(tab), unicastTableOffset)), tab.NumEntries)
	out := make([]hostAddr, 0, len(rows))
	for i := range rows {
		r := &rows[i]
		pfx, ok := r.prefix()
		if !ok {
			continue
		}
		out = append(out, hostAddr{Prefix: pfx, LinkIndex: int(r.InterfaceIndex),
			LinkName: names[int(r.InterfaceIndex)], Ours: r.lbhcOwned()})
	}
	return out, nil
}

func (w windowsPlatform) add(l link, p netip.Prefix) error {
	var row mibUnicastIPAddressRow
	_, _, _ = syscall.SyscallN(procInitializeUnicastIpAddressEntry.Addr(), uintptr(unsafe.Pointer(&row)))
	fillUnicastRow(&row, p, l.LUID, uint32(l.Index), !w.viaDAD)
	r, _, _ := syscall.SyscallN(procCreateUnicastIpAddressEntry.Addr(), uintptr(unsafe.Pointer(&row)))
	if err := syscall.Errno(r); r != 0 && err != errorObjectAlreadyExists {
		return fmt.Errorf("CreateUnicastIpAddressEntry: %w", err)
	}
	return nil
}

func (p windowsPlatform) del(a hostAddr) error {
	if !a.Ours {
		return fmt.Errorf("refusing to remove %s: not added by lbhc", a.Prefix)
	}
	links, err := p.links()
	if err != nil {
		return err
	}
	var row mibUnicastIPAddressRow
	row.Address = sockaddrInet(a.Prefix.Addr())
	row.InterfaceIndex = uint32(a.LinkIndex)
	for _, l := range links {
		if l.Index == a.LinkIndex {
			row.InterfaceLuid = l.LUID
		}
	}
	r, _, _ := syscall.SyscallN(procDeleteUnicastIpAddressEntry.Addr(), uintptr(unsafe.Pointer(&row)))
	if err := syscall.Errno(r); r != 0 && err != errorNotFound {
		return fmt.Errorf("DeleteUnicastIpAddressEntry: %w", err)
	}
	return nil
}

// canManage requires an elevated (Administrator) token.
func (windowsPlatform) canManage(bool) error {
	if windows.GetCurrentProcessToken().IsElevated() {
		return nil
	}
	return errors.New("not running as Administrator (elevated); run the service as LocalSystem or an administrator")
}

// announce sends nothing itself: Windows announces an address it adds
// during duplicate address detection (see windowsPlatform).
func (windowsPlatform) announce(link, netip.Prefix) (int, error) { return 0, nil }

package vip

// The Windows platform's decisions, kept free of build tags so that they are
// unit-tested on every platform against a fake procedure table (see
// iphelper_test.go). vip_windows.go fills ipHelper with the real IP Helper
// procedures (zsyscall_windows.go) and x/sys/windows calls.

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
)

// Error codes from winerror.h, as IP Helper returns them.
const (
	errorNotFound            = syscall.Errno(1168) // ERROR_NOT_FOUND
	errorObjectAlreadyExists = syscall.Errno(5010) // ERROR_OBJECT_ALREADY_EXISTS
)

// ipHelperProcs are the iphlpapi.dll procedures lbhc calls to own VIPs.
// Every one is looked up when the manager is built (ipHelper.check), so a
// system without one (Wine 8 lacks the three *UnicastIpAddressEntry
// functions; so may a stripped-down Windows image) is refused at start-up
// instead of failing in the middle of a promotion.
var ipHelperProcs = []string{
	"GetIfTable2Ex",
	"GetUnicastIpAddressTable",
	"FreeMibTable",
	"InitializeUnicastIpAddressEntry",
	"CreateUnicastIpAddressEntry",
	"DeleteUnicastIpAddressEntry",
}

// ipHelper is the table of IP Helper operations the Windows platform uses.
// Each function returns the Win32 error (a syscall.Errno) the procedure
// returned, or an error saying that the procedure is missing.
type ipHelper struct {
	// find reports whether iphlpapi.dll exports the named procedure
	// (nil) or why not.
	find func(name string) error
	// interfaces lists the interfaces (GetIfTable2Ex), NDIS filter
	// interfaces left out.
	interfaces func() ([]link, error)
	// unicastRows copies the rows of GetUnicastIpAddressTable(AF_UNSPEC).
	unicastRows func() ([]mibUnicastIPAddressRow, error)
	// initializeUnicastRow, createUnicastRow and deleteUnicastRow are
	// InitializeUnicastIpAddressEntry, CreateUnicastIpAddressEntry and
	// DeleteUnicastIpAddressEntry.
	initializeUnicastRow func(*mibUnicastIPAddressRow) error
	createUnicastRow     func(*mibUnicastIPAddressRow) error
	deleteUnicastRow     func(*mibUnicastIPAddressRow) error
	// elevated reports whether the process token is elevated.
	elevated func() bool
}

// check looks up every procedure in ipHelperProcs. A missing one is a
// configuration error (exit 2) naming the VIP flags and the functions.
func (h ipHelper) check() error {
	var missing []string
	for _, name := range ipHelperProcs {
		if err := h.find(name); err != nil {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return configErr("vip", "this system's iphlpapi.dll lacks %s, which --vip (with --vip-mode and --vip-interface) "+
		"needs to add and remove addresses (Windows Server 2008 and later have them; Wine does not): "+
		"run without --vip here", strings.Join(missing, ", "))
}

// winPlatform manages addresses through IP Helper. viaDAD is set when
// --garp-count is above 0 in nic mode: the address then goes through
// Windows' duplicate address detection, which announces it on the link;
// otherwise it is usable at once.
type winPlatform struct {
	h      ipHelper
	viaDAD bool
}

func (winPlatform) close() error { return nil }

func (w winPlatform) links() ([]link, error) {
	l, err := w.h.interfaces()
	if err != nil {
		return nil, fmt.Errorf("GetIfTable2Ex: %w", err)
	}
	return l, nil
}

func (w winPlatform) addrs() ([]hostAddr, error) {
	links, err := w.links()
	if err != nil {
		return nil, err
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Index] = l.Name
	}
	rows, err := w.h.unicastRows()
	if err != nil {
		return nil, fmt.Errorf("GetUnicastIpAddressTable: %w", err)
	}
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

// add creates p on l with lbhc's mark. An address that already exists (an
// earlier add of this term, or a crash's leftover that Cleanup kept) is
// success: add is idempotent like the Linux platform's.
func (w winPlatform) add(l link, p netip.Prefix) error {
	var row mibUnicastIPAddressRow
	if err := w.h.initializeUnicastRow(&row); err != nil {
		return fmt.Errorf("InitializeUnicastIpAddressEntry: %w", err)
	}
	fillUnicastRow(&row, p, l.LUID, uint32(l.Index), !w.viaDAD)
	if err := w.h.createUnicastRow(&row); err != nil && !errors.Is(err, errorObjectAlreadyExists) {
		return fmt.Errorf("CreateUnicastIpAddressEntry: %w", err)
	}
	return nil
}

// del removes a, which must carry lbhc's mark. An address already gone is
// success.
func (w winPlatform) del(a hostAddr) error {
	if !a.Ours {
		return fmt.Errorf("refusing to remove %s: not added by lbhc", a.Prefix)
	}
	links, err := w.links()
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
	if err := w.h.deleteUnicastRow(&row); err != nil && !errors.Is(err, errorNotFound) {
		return fmt.Errorf("DeleteUnicastIpAddressEntry: %w", err)
	}
	return nil
}

// canManage requires an elevated (Administrator) token.
func (w winPlatform) canManage(bool) error {
	if w.h.elevated() {
		return nil
	}
	return errors.New("not running as Administrator (elevated); run the service as LocalSystem or an administrator")
}

// announce sends nothing itself: Windows announces an address it adds
// during duplicate address detection (see winPlatform).
func (winPlatform) announce(link, netip.Prefix) (int, error) { return 0, nil }

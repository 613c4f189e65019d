package vip

import (
	"log/slog"
	"unsafe"

	"golang.org/x/sys/windows"
)

//go:generate go run golang.org/x/sys/windows/mkwinsyscall -output zsyscall_windows.go vip_windows.go

// IP Helper procedures x/sys/windows does not wrap (netioapi.h). The "?"
// makes a missing procedure an error instead of a panic; newPlatform looks
// every one up first anyway (ipHelper.check). InitializeUnicastIpAddressEntry
// returns nothing, so its wrapper (initializeUnicastRow) does the lookup.
//sys	initializeUnicastIPAddressEntry(row *mibUnicastIPAddressRow) = iphlpapi.InitializeUnicastIpAddressEntry
//sys	createUnicastIPAddressEntry(row *mibUnicastIPAddressRow) (errcode error) = iphlpapi.CreateUnicastIpAddressEntry?
//sys	deleteUnicastIPAddressEntry(row *mibUnicastIPAddressRow) (errcode error) = iphlpapi.DeleteUnicastIpAddressEntry?

const (
	// defaultLoopback is the interface for --vip-mode loopback when
	// --vip-interface is not given.
	defaultLoopback   = "Loopback Pseudo-Interface 1"
	interfaceByIndex  = true // --vip-interface may be an alias or an index
	interfaceFoldCase = true // aliases compare case-insensitively
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

// newPlatform looks up every IP Helper procedure lbhc uses; a missing one
// is a ConfigError (exit 2) naming the VIP flags and the functions.
func newPlatform(announce bool, _ *slog.Logger) (platform, error) {
	h := systemIPHelper()
	if err := h.check(); err != nil {
		return nil, err
	}
	return winPlatform{h: h, viaDAD: announce}, nil
}

// systemIPHelper is the procedure table of this system's iphlpapi.dll.
func systemIPHelper() ipHelper {
	return ipHelper{
		find:                 func(name string) error { return modiphlpapi.NewProc(name).Find() },
		interfaces:           interfaces,
		unicastRows:          unicastRows,
		initializeUnicastRow: initializeUnicastRow,
		createUnicastRow:     createUnicastIPAddressEntry,
		deleteUnicastRow:     deleteUnicastIPAddressEntry,
		elevated:             func() bool { return windows.GetCurrentProcessToken().IsElevated() },
	}
}

func initializeUnicastRow(row *mibUnicastIPAddressRow) error {
	if err := procInitializeUnicastIpAddressEntry.Find(); err != nil {
		return err
	}
	initializeUnicastIPAddressEntry(row)
	return nil
}

func interfaces() ([]link, error) {
	var tab *windows.MibIfTable2
	if err := windows.GetIfTable2Ex(windows.MibIfTableNormalWithoutStatistics, &tab); err != nil {
		return nil, err
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

func unicastRows() ([]mibUnicastIPAddressRow, error) {
	var tab *windows.MibUnicastIpAddressTable
	if err := windows.GetUnicastIpAddressTable(windows.AF_UNSPEC, &tab); err != nil {
		return nil, err
	}
	defer windows.FreeMibTable(unsafe.Pointer(tab))
	rows := unsafe.Slice((*mibUnicastIPAddressRow)(unsafe.Add(unsafe.Pointer(tab), unicastTableOffset)), tab.NumEntries)
	return append([]mibUnicastIPAddressRow(nil), rows...), nil
}

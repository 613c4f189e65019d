// Command probeload is lbhc's benchmark helper (scripts/bench/*.sh). It is
// not part of the product. Subcommands:
//
//	load      bounded connect-to-close load against one TCP or HTTP probe port
//	serve     accept and close connections (a listener on the VIP's port)
//	watch     connect to an address repeatedly and report when it became
//	          reachable / unreachable (VIP timing, run in a peer namespace)
//	vipreport turn the per-cycle files of scripts/bench/vip.sh into figures
//
// Every loop is bounded by a count and a duration; the scripts point it only
// at loopback or at addresses in network namespaces they created.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "load":
		err = runLoad(os.Args[2:])
	case "serve":
		err = runServe(os.Args[2:])
	case "watch":
		err = runWatch(os.Args[2:])
	case "vipreport":
		err = runVIPReport(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "probeload:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: probeload load|serve|watch|vipreport [flags] (-h for flags)")
	os.Exit(2)
}

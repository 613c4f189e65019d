package leasecost

import "net"

// listenLoopback listens on a free loopback port: the benchmark's traffic
// never leaves the machine.
func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

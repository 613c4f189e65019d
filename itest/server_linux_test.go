package itest

import (
	"bufio"
	"errors"
	"net"
	"os"
	"strconv"
	"testing"
	"time"
)

func TestServerPauseResume(t *testing.T) {
	port := FreePort(t)
	s := StartServer(t, "echo", os.Args[0], []string{"itest-echo", "127.0.0.1:" + strconv.Itoa(port)}, "127.0.0.1", port)
	c := dialEcho(t, s)
	s.Pause()
	got, err := echo(c, "two", 300*time.Millisecond)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("echo while paused = %q, %v; want a timeout", got, err)
	}
	s.Resume()
	// The line written while paused is answered now.
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, err := bufio.NewReader(c).ReadString('\n'); got != "two\n" || err != nil {
		t.Fatalf("echo after resume = %q, %v", got, err)
	}
	// Stop works on a paused server too.
	s.Pause()
	s.Stop()
	if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Stop", s.Addr())
	}
}

func TestProcState(t *testing.T) {
	tests := []struct {
		stat string
		want byte
	}{
		{"1234 (etcd) S 1 1234 1234 0", 'S'},
		{"1234 (a (b) c) T 1 2", 'T'},
		{"1234 (x)", 0},
		{"", 0},
	}
	for _, tt := range tests {
		if got := procState([]byte(tt.stat)); got != tt.want {
			t.Errorf("procState(%q) = %q, want %q", tt.stat, got, tt.want)
		}
	}
}

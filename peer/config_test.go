package peer

import (
	"maps"
	"strings"
	"testing"
	"time"
)

func TestParsePeers(t *testing.T) {
	got, err := ParsePeers([]string{"a=10.0.0.1:26002", "b=[fd00::2]:26002", " c=node-c.example:9 "}, "b")
	want := map[string]string{"a": "10.0.0.1:26002", "c": "node-c.example:9"}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("ParsePeers = %v %v, want %v (self dropped)", got, err, want)
	}
	for _, tc := range []struct{ spec, err string }{
		{"a", `invalid --peer: "a" is not NODEID=HOST:PORT`},
		{"=10.0.0.1:1", `invalid --peer: "=10.0.0.1:1": the node id is empty`},
		{"a b=10.0.0.1:1", `invalid --peer: "a b=10.0.0.1:1": the node id contains blanks or control characters`},
		{strings.Repeat("x", 65) + "=h:1", `invalid --peer: "` + strings.Repeat("x", 65) + `=h:1": the node id is longer than 64 bytes`},
		{"a=10.0.0.1", `invalid --peer: "a=10.0.0.1": not HOST:PORT`},
		{"a=10.0.0.1:0", `invalid --peer: "a=10.0.0.1:0": port "0" is not a number 1-65535`},
		{"a=10.0.0.1:65536", `invalid --peer: "a=10.0.0.1:65536": port "65536" is not a number 1-65535`},
		{"a=10.0.0.1:http", `invalid --peer: "a=10.0.0.1:http": port "http" is not a number 1-65535`},
		{"a=:26002", `invalid --peer: "a=:26002": the host is empty`},
	} {
		if _, err := ParsePeers([]string{tc.spec}, "self"); err == nil || err.Error() != tc.err {
			t.Errorf("%q:\n got %v\nwant %s", tc.spec, err, tc.err)
		}
	}
	if _, err := ParsePeers([]string{"a=h:1", "b=h:2", "a=h:3"}, "b"); err == nil || err.Error() != "invalid --peer: node id a appears twice" {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := ParsePeers([]string{"b=h:1", "b=h:2"}, "b"); err == nil || err.Error() != "invalid --peer: node id b appears twice" {
		t.Errorf("duplicate self: %v", err)
	}
}

func TestValidate(t *testing.T) {
	ok := func() Config {
		return Config{Group: "g", Self: "a", Listen: ":26002", Peers: map[string]string{"b": "10.0.0.2:26002"}, Keys: [][]byte{keyOld}}
	}
	if c := ok(); c.Validate() != nil {
		t.Fatal(c.Validate())
	}
	for _, tc := range []struct {
		edit func(*Config)
		err  string
	}{
		{func(c *Config) { c.Keys = nil }, "invalid --peer-key-file: required with --peer (the channel has no unauthenticated mode)"},
		{func(c *Config) { c.Keys = [][]byte{keyOld, keyNew, keyOld} }, "invalid --peer-key-file: 3 keys, want 1 or 2"},
		{func(c *Config) { c.Keys = [][]byte{keyOld, []byte("short")} }, "invalid --peer-key-file: key 2 is 5 bytes, want at least 32"},
		{func(c *Config) { c.Group = "" }, "invalid --lease-name: must not be empty (it names the peer group)"},
		{func(c *Config) { c.Group = strings.Repeat("g", 129) }, "invalid --lease-name: is 129 bytes, at most 128 with --peer"},
		{func(c *Config) { c.Self = "" }, "invalid --node-id: must not be empty with --peer"},
		{func(c *Config) { c.Self = strings.Repeat("n", 65) }, "invalid --node-id: is 65 bytes, at most 64 with --peer"},
		{func(c *Config) { c.Peers = nil }, "invalid --peer: names no node other than this one (a)"},
		{func(c *Config) { c.Peers["a"] = "10.0.0.1:1" }, "invalid --peer: a is this node (--node-id): Peers excludes it"},
		{func(c *Config) { c.Peers = map[string]string{"b": "nope"} }, "invalid --peer: b=nope: not HOST:PORT"},
		{func(c *Config) { c.Listen = "26002" }, `invalid --peer-listen: "26002": not HOST:PORT`},
		{func(c *Config) { c.Listen = ":99999" }, `invalid --peer-listen: ":99999": port "99999" is not a number 0-65535`},
		{func(c *Config) { c.MaxSkew = -time.Second }, "invalid --peer: max skew -1s is out of range 0-1m"},
		{func(c *Config) { c.Heartbeat = -time.Second }, "invalid --peer: heartbeat -1s is negative"},
	} {
		c := ok()
		tc.edit(&c)
		if err := c.Validate(); err == nil || err.Error() != tc.err {
			t.Errorf("got %v\nwant %s", err, tc.err)
		}
		if _, err := New(c, nil, nil, nil); err == nil {
			t.Errorf("New accepted what Validate refuses: %s", tc.err)
		}
	}
	c := ok()
	c.Keys = nil
	if err := c.ValidateSettings(); err != nil {
		t.Fatalf("ValidateSettings checks the keys: %v", err)
	}
}

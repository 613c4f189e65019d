package vip

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"testing"
)

func TestGARPFrame(t *testing.T) {
	mac := []byte{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
	ip := netip.MustParseAddr("192.0.2.10")
	const (
		eth     = "ffffffffffff" + "021122334455" + "0806"
		arpHdr  = "0001" + "0800" + "06" + "04"
		sender  = "021122334455" + "c000020a"
		padding = "000000000000000000000000000000000000"
	)
	tests := []struct {
		op   uint16
		want string
	}{
		{arpRequest, eth + arpHdr + "0001" + sender + "000000000000" + "c000020a" + padding},
		{arpReply, eth + arpHdr + "0002" + sender + "021122334455" + "c000020a" + padding},
	}
	for _, tt := range tests {
		got := garpFrame(mac, ip, tt.op)
		if len(got) != ethMinFrame || hex.EncodeToString(got) != tt.want {
			t.Errorf("garpFrame(op %d) =\n%x\nwant\n%s", tt.op, got, tt.want)
		}
	}
}

func TestUnsolicitedNA(t *testing.T) {
	mac := []byte{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
	got := unsolicitedNA(mac, netip.MustParseAddr("2001:db8::10"))
	want, _ := hex.DecodeString("88" + "00" + "0000" + "20000000" +
		"20010db8000000000000000000000010" + "02" + "01" + "021122334455")
	if !bytes.Equal(got, want) {
		t.Errorf("unsolicitedNA =\n%x\nwant\n%x", got, want)
	}
}

package cmdline

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestGroupInfo(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := registerGroupInfo(reg, "web", "n1"); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || mfs[0].GetName() != "lbhc_group_info" || len(mfs[0].Metric) != 1 {
		t.Fatalf("gathered %v", mfs)
	}
	m := mfs[0].Metric[0]
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	if got["group"] != "web" || got["node"] != "n1" || len(got) != 2 || m.GetGauge().GetValue() != 1 {
		t.Fatalf("labels %v value %v", got, m.GetGauge().GetValue())
	}
	if err := registerGroupInfo(reg, "web", "n1"); err == nil {
		t.Fatal("second registration accepted")
	}
}

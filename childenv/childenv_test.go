package childenv

import (
	"reflect"
	"testing"
)

func TestBase(t *testing.T) {
	in := []string{
		"PATH=/usr/bin", "LBHC_AZURE_STORAGE_KEY=c2VjcmV0", "HOME=/root",
		"LBHC_AZURE_STORAGE_CONNECTION_STRING=AccountKey=x", "lbhc_election=etcd", "LBH=keep",
		"AWS_REGION=eu-west-1", "MY_LBHC_X=keep", "=C:=C:\\",
	}
	want := []string{"PATH=/usr/bin", "HOME=/root", "LBH=keep", "AWS_REGION=eu-west-1", "MY_LBHC_X=keep", "=C:=C:\\"}
	if got := Base(in); !reflect.DeepEqual(got, want) {
		t.Fatalf("Base = %q\nwant %q", got, want)
	}
}

package azblob_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lbhc/lbhc/election"
	"github.com/lbhc/lbhc/election/azblob"
	"github.com/lbhc/lbhc/itest"
)

// TestBlobRecordGetIfChanged: the follower's watch read answers "unchanged"
// while the ETag is the one it knows, and the new record and version as
// soon as anyone wrote, against Azurite.
func TestBlobRecordGetIfChanged(t *testing.T) {
	cs := itest.Env(t, azuriteEnv)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := azblob.AzureConfig{Mode: azblob.AzureModeRecord, ConnectionString: cs, Container: azTestContainer(t), CreateContainer: true, LeaseName: "watch"}
	b, err := azblob.NewAzureBlob(ctx, cfg, "setup", 15*time.Second) // creates the container
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Close()
	st, err := azblob.NewBlobRecordStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cg, ok := st.(election.ChangeGetter)
	if !ok {
		t.Fatal("the blob record store is not a ChangeGetter")
	}
	if _, _, err := cg.GetIfChanged(ctx, `"0x0"`); !errors.Is(err, election.ErrNotFound) {
		t.Fatalf("missing blob: err = %v, want ErrNotFound", err)
	}
	rec := election.Record{Holder: "a", Term: 1, TTL: 15 * time.Second}
	v1, err := st.Create(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, _, err := cg.GetIfChanged(ctx, v1); !errors.Is(err, election.ErrUnchanged) {
			t.Fatalf("unchanged record: err %v, want ErrUnchanged", err)
		}
	}
	rec.Term = 2
	v2, err := st.Update(ctx, rec, v1)
	if err != nil {
		t.Fatal(err)
	}
	got, ver, err := cg.GetIfChanged(ctx, v1)
	if err != nil || ver != v2 || got != rec {
		t.Fatalf("after an update: %+v %q err %v, want %+v %q nil", got, ver, err, rec, v2)
	}
}

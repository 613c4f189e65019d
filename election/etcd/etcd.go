package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcdWatchRetry is the pause before re-establishing a watch that ended
// (etcd unreachable, no leader, compaction).
const etcdWatchRetry = time.Second

// etcdCleanupTimeout bounds revoking a lease we granted but could not use
// after the operation's own context is gone.
const etcdCleanupTimeout = time.Second

// EtcdBackend is a native etcd lease: the key <prefix>/<lease-name> holds
// the leader's node id, attached to an etcd lease with TTL = lease-ttl, and
// is created only if absent (CreateRevision == 0). The term is the key's
// CreateRevision, which etcd makes strictly increasing. Renewal is one
// KeepAliveOnce plus a read of the key, sent together (one round trip of
// latency); the engine's deadline, not etcd's
// keepalive stream, is the fence. A watch on the key wakes followers as soon
// as it is deleted (release, expiry).
type EtcdBackend struct {
	cli *clientv3.Client
	key string
	id  string
	ttl int64 // seconds

	mu    sync.Mutex       // serialises operations; guards lease and term
	lease clientv3.LeaseID // lease of our grant (or of one not yet revoked); 0 = none
	term  int64            // CreateRevision of our key while we hold it

	// A key deleted by hand leaves its holder's etcd lease alive until the
	// holder notices at its next renewal and stops keeping it alive: the
	// key is free only when that lease is gone (see vanished).
	seenLease clientv3.LeaseID // lease of the last key seen; 0 = none
	started   time.Time

	changes   chan struct{}
	stopWatch context.CancelFunc
	watchDone chan struct{}
	closeOnce sync.Once
}

// ExtendTTL makes every later grant's etcd lease last extra longer than
// --lease-ttl, rounded up to whole seconds (election.ExtendRecordTTL,
// failsafe: lease-ttl + the promise time). A follower outside the peer set
// then waits for that longer lease to expire after the leader's last
// keepalive, so it cannot take over while a promise may still be live;
// after a SIGKILL in failsafe, a follower leads within lease-ttl + P.
func (b *EtcdBackend) ExtendTTL(extra time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ttl += int64((extra + time.Second - 1) / time.Second)
}

// EtcdTTL converts --lease-ttl to etcd's whole seconds.
func EtcdTTL(ttl time.Duration) (int64, error) {
	if ttl < time.Second || ttl%time.Second != 0 {
		return 0, cfgErr("lease-ttl", "etcd leases last whole seconds (>= 1s), got %s", ttl)
	}
	return int64(ttl / time.Second), nil
}

// EtcdKey is the leader key of a lease: prefix and lease name joined by one
// slash.
func EtcdKey(prefix, leaseName string) string {
	return strings.TrimRight(prefix, "/") + "/" + leaseName
}

// NewEtcdBackend returns the lease backend for leaseName under prefix and
// starts its watch. It takes ownership of cli (Close closes it). A read and
// a write probe of the key, bounded by ctx (give it a deadline), prove that
// the cluster answers and that the credentials may read and write it. On
// error the caller still owns cli.
func NewEtcdBackend(ctx context.Context, cli *clientv3.Client, prefix, leaseName, nodeID string, ttl time.Duration) (*EtcdBackend, error) {
	secs, err := EtcdTTL(ttl)
	if err != nil {
		return nil, err
	}
	switch {
	case leaseName == "":
		return nil, cfgErr("lease-name", "must not be empty")
	case nodeID == "":
		return nil, cfgErr("node-id", "must not be empty")
	}
	b := &EtcdBackend{cli: cli, key: EtcdKey(prefix, leaseName), id: nodeID, ttl: secs,
		changes: make(chan struct{}, 1), watchDone: make(chan struct{}), started: time.Now()}
	if _, err := cli.Get(ctx, b.key); err != nil {
		return nil, etcdStartError(cli.Endpoints(), "read", b.key, err)
	}
	// etcd checks the permissions of every operation in a transaction,
	// whichever branch runs: this one proves write access and never writes
	// (a create revision is never negative).
	_, err = cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(b.key), "<", 0)).
		Then(clientv3.OpPut(b.key, nodeID)).Commit()
	if err != nil {
		return nil, etcdStartError(cli.Endpoints(), "write", b.key, err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	b.stopWatch = cancel
	go b.watch(wctx)
	return b, nil
}

// etcdStartError explains why a start-up request (op "read" or "write" of
// key) failed.
func etcdStartError(endpoints []string, op, key string, err error) error {
	switch {
	case errors.Is(err, rpctypes.ErrAuthFailed), errors.Is(err, rpctypes.ErrInvalidAuthToken):
		return cfgErr("etcd-username", "etcd rejected the user name or password (--etcd-password-file): %v", err)
	case errors.Is(err, rpctypes.ErrUserEmpty):
		return cfgErr("etcd-username", "etcd has authentication enabled: set --etcd-username and --etcd-password-file")
	case errors.Is(err, rpctypes.ErrPermissionDenied):
		return cfgErr("etcd-username", "not allowed to %s %q: grant the user a read-write role on the --etcd-prefix range: %v", op, key, err)
	}
	shown := make([]string, len(endpoints))
	for i, e := range endpoints {
		shown[i] = RedactURL(e)
	}
	return fmt.Errorf("etcd: no endpoint of --etcd-endpoints (%s) answered: %w", strings.Join(shown, ","), err)
}

// Changes is signalled when the leader key is deleted (released or expired)
// and whenever the watch had to be re-established (it may have missed a
// deletion), so a follower campaigns at once instead of at the next period.
func (b *EtcdBackend) Changes() <-chan struct{} { return b.changes }

func (b *EtcdBackend) wake() {
	select {
	case b.changes <- struct{}{}:
	default:
	}
}

func (b *EtcdBackend) watch(ctx context.Context) {
	defer close(b.watchDone)
	for ctx.Err() == nil {
		// WithRequireLeader: a member cut off from its cluster ends the
		// watch instead of staying silent.
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		for resp := range b.cli.Watch(wctx, b.key) {
			if resp.Err() != nil {
				break
			}
			for _, ev := range resp.Events {
				if ev.Type == clientv3.EventTypeDelete {
					b.wake()
				}
			}
		}
		cancel()
		b.wake()
		select {
		case <-ctx.Done():
		case <-time.After(etcdWatchRetry):
		}
	}
}

// TryAcquire implements Backend.
func (b *EtcdBackend) TryAcquire(ctx context.Context, renew bool) (State, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if renew {
		if b.lease == 0 || b.term == 0 {
			return State{}, fmt.Errorf("renew without a grant: %w", ErrLeaseLost)
		}
		return b.renew(ctx)
	}
	// A new grant always gets a new term: end a previous grant of ours
	// first (its key goes with its lease).
	if b.lease != 0 {
		if err := b.revoke(ctx); err != nil {
			return State{}, err
		}
	}
	return b.acquire(ctx)
}

func (b *EtcdBackend) renew(ctx context.Context) (State, error) {
	held := State{Held: true, Term: uint64(b.term), Leader: b.id}
	// The keep-alive and the read of the key go out together on the same
	// connection, so a renewal costs one round trip of latency, not two.
	// Both are sent after the engine's send time, which is all the deadline
	// needs: the keep-alive extends the lease from a later instant, and the
	// read shows the key at a later instant.
	lease := b.lease
	kac := make(chan error, 1)
	go func() {
		_, err := b.cli.KeepAliveOnce(ctx, lease)
		kac <- err
	}()
	resp, getErr := b.cli.Get(ctx, b.key)
	if err := <-kac; err != nil {
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			err = fmt.Errorf("etcd lease %x of term %d expired or revoked: %w", int64(b.lease), held.Term, ErrLeaseLost)
			b.lease, b.term = 0, 0
			return State{}, err
		}
		return held, fmt.Errorf("etcd keepalive: %w", err)
	}
	// The lease lives, but an operator (or a bug) may have deleted or
	// replaced the key: only the key says who leads.
	if getErr != nil {
		return held, fmt.Errorf("etcd get %s: %w", b.key, getErr)
	}
	if len(resp.Kvs) == 0 {
		// Not revoked: followers wait for this lease to expire (a TTL
		// from the keepalive above), by when this node has long demoted.
		b.lease, b.term = 0, 0
		return State{}, fmt.Errorf("etcd key %s of term %d was deleted: %w", b.key, held.Term, ErrLeaseLost)
	}
	kv := resp.Kvs[0]
	if kv.Lease != int64(b.lease) || kv.CreateRevision != b.term {
		b.revokeQuietly(ctx, b.lease)
		b.lease, b.term = 0, 0
		return State{Term: uint64(kv.CreateRevision), Leader: string(kv.Value)},
			fmt.Errorf("etcd key %s of term %d now held by %q (term %d): %w", b.key, held.Term, kv.Value, kv.CreateRevision, ErrLeaseLost)
	}
	return held, nil
}

func (b *EtcdBackend) acquire(ctx context.Context) (State, error) {
	resp, err := b.cli.Get(ctx, b.key)
	if err != nil {
		return State{}, fmt.Errorf("etcd get %s: %w", b.key, err)
	}
	if len(resp.Kvs) == 0 {
		if st, free, err := b.vanished(ctx); err != nil || !free {
			return st, err
		}
	}
	if len(resp.Kvs) > 0 {
		kv := resp.Kvs[0]
		b.seenLease = clientv3.LeaseID(kv.Lease)
		if string(kv.Value) != b.id || b.lease == 0 || kv.Lease != int64(b.lease) {
			// Someone else's key — or our id under a lease this process
			// does not hold (a crashed earlier run, or a VM cloned with the
			// same hostname): it is free only when etcd expires it.
			return State{Term: uint64(kv.CreateRevision), Leader: string(kv.Value)}, nil
		}
		// Our own key under our own lease, after the engine fenced itself
		// out of it: a new grant needs a new term, so end the old one.
		if err := b.revoke(ctx); err != nil {
			return State{}, err
		}
	}
	g, err := b.cli.Grant(ctx, b.ttl)
	if err != nil {
		return State{}, fmt.Errorf("etcd grant lease: %w", err)
	}
	tr, err := b.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(b.key), "=", 0)).
		Then(clientv3.OpPut(b.key, b.id, clientv3.WithLease(g.ID)), clientv3.OpGet(b.key)).
		Else(clientv3.OpGet(b.key)).
		Commit()
	if err != nil {
		// The put may have happened: revoking the lease removes the key
		// too. If that fails as well the lease expires after its TTL.
		b.revokeQuietly(ctx, g.ID)
		return State{}, fmt.Errorf("etcd create %s: %w", b.key, err)
	}
	var kvs = tr.Responses[len(tr.Responses)-1].GetResponseRange().GetKvs()
	if !tr.Succeeded {
		b.revokeQuietly(ctx, g.ID)
		if len(kvs) == 0 {
			return State{}, nil
		}
		return State{Term: uint64(kvs[0].CreateRevision), Leader: string(kvs[0].Value)}, nil
	}
	if len(kvs) == 0 || kvs[0].Lease != int64(g.ID) {
		b.revokeQuietly(ctx, g.ID)
		return State{}, fmt.Errorf("etcd create %s: key not readable in the same transaction", b.key)
	}
	b.lease, b.term, b.seenLease = g.ID, kvs[0].CreateRevision, g.ID
	return State{Held: true, Term: uint64(b.term), Leader: b.id}, nil
}

// revoke ends our lease (and with it our key). A lease that no longer
// exists is already revoked.
func (b *EtcdBackend) revoke(ctx context.Context) error {
	if _, err := b.cli.Revoke(ctx, b.lease); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return fmt.Errorf("etcd revoke lease %x: %w", int64(b.lease), err)
	}
	b.lease, b.term = 0, 0
	return nil
}

// revokeQuietly revokes a lease we will not use, on a short context of its
// own when ctx has ended. Failure is harmless: the lease expires by itself.
func (b *EtcdBackend) revokeQuietly(ctx context.Context, id clientv3.LeaseID) {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), etcdCleanupTimeout)
		defer cancel()
	}
	_, _ = b.cli.Revoke(ctx, id)
}

// Release revokes our lease, which deletes the key, so the watch wakes the
// followers. If etcd does not answer, the lease is revoked before the next
// grant or expires by itself.
func (b *EtcdBackend) Release(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lease == 0 {
		return nil
	}
	return b.revoke(ctx)
}

// Close stops the watch and closes the client. It does not release.
func (b *EtcdBackend) Close() error {
	var err error
	b.closeOnce.Do(func() {
		b.stopWatch()
		<-b.watchDone
		// The client reports its own cancelled context on a clean close.
		if err = b.cli.Close(); errors.Is(err, context.Canceled) {
			err = nil
		}
	})
	return err
}

// Peek reports the holder without acquiring: the key is free when it does
// not exist (released, or its lease expired).
func (b *EtcdBackend) Peek(ctx context.Context) (State, bool, error) {
	resp, err := b.cli.Get(ctx, b.key)
	if err != nil {
		return State{}, false, fmt.Errorf("etcd get %s: %w", b.key, err)
	}
	if len(resp.Kvs) == 0 {
		b.mu.Lock()
		defer b.mu.Unlock()
		st, free, err := b.vanished(ctx)
		return st, free, err
	}
	kv := resp.Kvs[0]
	b.mu.Lock()
	b.seenLease = clientv3.LeaseID(kv.Lease)
	b.mu.Unlock()
	return State{Term: uint64(kv.CreateRevision), Leader: string(kv.Value)}, false, nil
}

// vanished decides whether a missing key is free (b.mu held). It is when
// the lease of the last key seen has ended (released, expired, or the
// holder stopped renewing after its key was deleted). A node that has
// seen no key waits a TTL after start: a key deleted before its first
// read may have a live holder it cannot name.
func (b *EtcdBackend) vanished(ctx context.Context) (State, bool, error) {
	if b.seenLease == 0 {
		if left := time.Duration(b.ttl)*time.Second - time.Since(b.started); left > 0 {
			return State{RetryAfter: left}, false, nil
		}
		return State{}, true, nil
	}
	ttl, err := b.cli.TimeToLive(ctx, b.seenLease)
	if err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return State{}, false, fmt.Errorf("etcd lease %x time-to-live: %w", int64(b.seenLease), err)
	}
	// etcd reports the remaining whole seconds, rounded down (0 while
	// under a second is left), and -1 once the lease is gone.
	if err == nil && ttl.TTL >= 0 {
		return State{RetryAfter: time.Duration(ttl.TTL)*time.Second + 100*time.Millisecond}, false, nil
	}
	b.seenLease = 0
	return State{}, true, nil
}

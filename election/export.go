package election

import "time"

// What the SDK-backed stores in election's subpackages (etcd, dynamodb,
// azblob) share with the CAS algorithm: the bounds on a record's lease
// duration.

// MaxRecordTTL bounds the lease duration a record may carry.
const MaxRecordTTL = maxRecordTTL

// RecordTTL converts a record's lease duration in milliseconds, refusing a
// value outside 1 ms..MaxRecordTTL as ErrCorrupt.
func RecordTTL(ms int64) (time.Duration, error) { return recordTTL(ms) }

package dynamodb_test

import "time"

// ttl is the lease duration of the conformance suite's candidates, as in
// election's own conformance test.
const ttl = 1500 * time.Millisecond

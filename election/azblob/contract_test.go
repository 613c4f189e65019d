package azblob

import "github.com/lbhc/lbhc/election"

// Both Azure modes can be observed without acquiring (election.Peeker).
var (
	_ election.Peeker  = (*nativeBlob)(nil)
	_ election.Backend = (*nativeBlob)(nil)
)

type ConfigError = election.ConfigError

package etcd

import "github.com/lbhc/lbhc/election"

// The etcd backend can be observed without acquiring (election.Peeker).
var _ election.Peeker = (*EtcdBackend)(nil)

type ConfigError = election.ConfigError

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

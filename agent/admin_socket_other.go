//go:build !unix

package agent

// socketRequired: Windows has AF_UNIX only from Windows 10 1803 on, and
// the file mode cannot restrict it (ACLs do); without it the CLI uses TCP
// with the token.
const socketRequired = false

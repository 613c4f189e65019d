// Package wine runs lbhc's Windows build under Wine: a smoke suite of real
// lbhc.exe processes (version, help, bad input, the file lease, failover
// after SIGKILL, the control commands, the Windows service cycle and its
// environment file). It has no non-test code.
//
// Wine 8 (Debian) lacks bcryptprimitives.dll, from which Go's Windows
// runtime loads ProcessPrng at start-up; tools/wine/bcryptprimitives.c is a
// replacement that scripts/e2e/test_windows_wine.sh builds with mingw-w64
// and copies into a throw-away Wine prefix. The script exports
//
//	LBHC_TEST_WINE        the wine program
//	LBHC_TEST_WINEPREFIX  the prepared prefix
//
// and runs this package with the build tag "wine" (so that go test ./...
// neither builds lbhc.exe nor needs Wine); without the variables the tests
// skip (fail under LBHC_REQUIRE_INTEGRATION=1). Run it with
//
//	scripts/e2e/test_windows_wine.sh
package wine

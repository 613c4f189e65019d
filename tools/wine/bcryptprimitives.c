/*
 * bcryptprimitives.dll for Wine 8, test use only.
 *
 * Go's Windows runtime (since Go 1.24) loads ProcessPrng from
 * bcryptprimitives.dll in the system directory at start-up and aborts when
 * it is missing; Wine 8 ships no such DLL. This one exports ProcessPrng and
 * fills the buffer through advapi32's SystemFunction036 (RtlGenRandom),
 * which Wine implements. scripts/e2e/test_windows_wine.sh builds it with
 * Debian's mingw-w64 and copies it into a throw-away Wine prefix; it is never
 * shipped.
 */
#include <windows.h>

/* RtlGenRandom's exported name; takes at most ULONG bytes per call. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* BOOL ProcessPrng(PBYTE pbData, SIZE_T cbData): always TRUE on Windows,
 * which is what Go relies on; FALSE here only if Wine's generator fails. */
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size)
{
	while (size > 0) {
		ULONG n = size > 0x40000000 ? 0x40000000 : (ULONG)size;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		size -= n;
	}
	return TRUE;
}

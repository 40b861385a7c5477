//go:build amd64 && !purego

package symplectic

import "os"

// useAVX2FMA selects the assembly kernels. It is set once at start-up from
// CPUID (AVX2 and FMA3 both, and the OS saving the YMM registers) and cleared
// by HALO_CPU=generic, as in the rest of the module; tests flip it to run
// every product both ways.
var useAVX2FMA = cpuHasAVX2FMA() && os.Getenv("HALO_CPU") != "generic"

// cpuHasAVX2FMA reports whether the CPU and OS support AVX2 with FMA3.
// (The package may not import x/sys/cpu or cpuid, so it asks CPUID itself.)
func cpuHasAVX2FMA() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const (
		fma     = 1 << 12
		osxsave = 1 << 27
		avx     = 1 << 28
	)
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	// XCR0 bits 1 and 2: the OS saves XMM and YMM state across switches.
	if xcr0, _ := xgetbv(); xcr0&6 != 6 {
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	const avx2 = 1 << 5
	return ebx7&avx2 != 0
}

//go:noescape
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

//go:noescape
func xgetbv() (eax, edx uint32)

// kernel6x8AVX2 is the assembly form of kernel6x8Generic (acc is 0 or 1).
//
//go:noescape
func kernel6x8AVX2(k int, a *float64, lda int, b *float64, ldb int, c *float64, ldc int, acc int)

// kernel6x4AVX2 is the assembly form of kernel6x4Generic (acc is 0 or 1).
//
//go:noescape
func kernel6x4AVX2(k int, a *float64, lda int, b *float64, ldb int, c *float64, ldc int, acc int)

func kernel6x8(k int, a []float64, lda int, b []float64, ldb int, c []float64, ldc int, acc bool) {
	if useAVX2FMA {
		kernel6x8AVX2(k, &a[0], lda, &b[0], ldb, &c[0], ldc, b2i(acc))
		return
	}
	kernel6x8Generic(k, a, lda, b, ldb, c, ldc, acc)
}

func kernel6x4(k int, a []float64, lda int, b []float64, ldb int, c []float64, ldc int, acc bool) {
	if useAVX2FMA {
		kernel6x4AVX2(k, &a[0], lda, &b[0], ldb, &c[0], ldc, b2i(acc))
		return
	}
	kernel6x4Generic(k, a, lda, b, ldb, c, ldc, acc)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// kernelImpl names the product kernels in use.
func kernelImpl() string {
	if useAVX2FMA {
		return "avx2fma"
	}
	return "generic"
}

// setGeneric forces (true) or releases (false) the generic kernels and
// returns the previous setting; for tests and benchmarks only.
func setGeneric(generic bool) (was bool) {
	was = !useAVX2FMA
	useAVX2FMA = !generic && cpuHasAVX2FMA()
	return was
}

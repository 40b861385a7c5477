package asm

import (
	"os"

	"github.com/klauspost/cpuid/v2"
)

// useAVX2FMA selects the AVX2+FMA assembly kernels. It is set once at start-up
// from the CPU's features (AVX2 does not imply FMA, so both are checked) and
// cleared by HALO_CPU=generic; tests flip it to run every kernel both ways.
var useAVX2FMA = hasAsm && cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3) && os.Getenv("HALO_CPU") != "generic"

// Impl names the kernel family chosen at start-up: "avx2fma" or "generic".
func Impl() string {
	if useAVX2FMA {
		return "avx2fma"
	}
	return "generic"
}

// Why explains the choice made at start-up, for `halo info`.
func Why() string {
	switch {
	case !hasAsm:
		return "assembly not built for this platform (non-amd64 or the purego tag)"
	case os.Getenv("HALO_CPU") == "generic":
		return "HALO_CPU=generic forces the pure-Go kernels"
	case !cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3):
		return "CPU lacks AVX2 or FMA3: " + cpuid.CPU.BrandName
	}
	return "CPU has AVX2 and FMA3: " + cpuid.CPU.BrandName
}

// SetGeneric forces (true) or releases (false) the pure-Go kernels and reports
// the previous setting. Releasing has no effect where the CPU or build lacks
// the assembly. It exists for tests and benchmarks that compare the two paths;
// it must not be called while kernels run on other goroutines.
func SetGeneric(generic bool) (wasGeneric bool) {
	wasGeneric = !useAVX2FMA
	useAVX2FMA = !generic && hasAsm && cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3)
	return wasGeneric
}

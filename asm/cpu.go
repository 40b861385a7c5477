package asm

import (
	"os"

	"github.com/klauspost/cpuid/v2"
)

// Kernel families, best first. The choice is made once at start-up from the
// CPU's features and HALO_CPU; tests switch it with SetImpl to run every
// family in one binary.
const (
	ImplAVX512  = "avx512"  // AVX-512F 12x32 SGEMM kernel; AVX2 vector kernels
	ImplAVX2FMA = "avx2fma" // AVX2+FMA 6x16 SGEMM kernel and vector kernels
	ImplGeneric = "generic" // the pure-Go twins
)

var (
	// useAVX2FMA selects the AVX2+FMA vector kernels (and the 6x16 SGEMM
	// kernel unless useAVX512 is set).
	useAVX2FMA bool
	// useAVX512 selects the 12x32 AVX-512 SGEMM kernel.
	useAVX512 bool
)

func init() { SetImpl(defaultImpl()) }

// hasAVX2FMA: AVX2 does not imply FMA, so both are checked.
func hasAVX2FMA() bool { return hasAsm && cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3) }

func hasAVX512() bool { return hasAVX2FMA() && cpuid.CPU.Supports(cpuid.AVX512F) }

// defaultImpl is the best family the CPU has, unless HALO_CPU asks for a
// lesser one: HALO_CPU=generic forces the pure-Go twins, HALO_CPU=avx2 the
// AVX2 kernels.
func defaultImpl() string {
	switch os.Getenv("HALO_CPU") {
	case "generic":
		return ImplGeneric
	case "avx2", ImplAVX2FMA:
		if hasAVX2FMA() {
			return ImplAVX2FMA
		}
		return ImplGeneric
	}
	switch {
	case hasAVX512():
		return ImplAVX512
	case hasAVX2FMA():
		return ImplAVX2FMA
	}
	return ImplGeneric
}

// Impls lists the kernel families this CPU and build can run, best first.
func Impls() []string {
	var out []string
	if hasAVX512() {
		out = append(out, ImplAVX512)
	}
	if hasAVX2FMA() {
		out = append(out, ImplAVX2FMA)
	}
	return append(out, ImplGeneric)
}

// Impl names the kernel family in use: "avx512", "avx2fma" or "generic".
func Impl() string {
	switch {
	case useAVX512:
		return ImplAVX512
	case useAVX2FMA:
		return ImplAVX2FMA
	}
	return ImplGeneric
}

// Why explains the choice made at start-up, for `halo info`.
func Why() string {
	env := os.Getenv("HALO_CPU")
	switch {
	case !hasAsm:
		return "assembly not built for this platform (non-amd64 or the purego tag)"
	case env == "generic":
		return "HALO_CPU=generic forces the pure-Go kernels"
	case (env == "avx2" || env == ImplAVX2FMA) && hasAVX2FMA():
		return "HALO_CPU=" + env + " forces the AVX2 kernels on " + cpuid.CPU.BrandName
	case hasAVX512():
		return "CPU has AVX-512F, AVX2 and FMA3: " + cpuid.CPU.BrandName
	case hasAVX2FMA():
		return "CPU has AVX2 and FMA3 but not AVX-512F: " + cpuid.CPU.BrandName
	}
	return "CPU lacks AVX2 or FMA3: " + cpuid.CPU.BrandName
}

// SetImpl switches to the named kernel family and returns the previous one.
// It panics if the CPU or build cannot run it (see Impls). It exists for
// tests and benchmarks that compare families, and must not be called while
// kernels run on other goroutines.
func SetImpl(name string) (prev string) {
	prev = Impl()
	switch {
	case name == ImplGeneric:
		useAVX2FMA, useAVX512 = false, false
	case name == ImplAVX2FMA && hasAVX2FMA():
		useAVX2FMA, useAVX512 = true, false
	case name == ImplAVX512 && hasAVX512():
		useAVX2FMA, useAVX512 = true, true
	default:
		panic("asm: SetImpl: kernel family " + name + " not available here")
	}
	return prev
}

// KernelShape returns the tile (MR rows, NR columns) of the SGEMM
// micro-kernel in use, which fixes the layout of the packed panels that
// SgemmKernel takes.
func KernelShape() (mr, nr int) {
	if useAVX512 {
		return 12, 32
	}
	return MR, NR
}

package asm

import "unsafe"

// MR and NR are the rows and columns of the C tile of the 6x16 SGEMM
// micro-kernel (AVX2 and generic); MaxMR and MaxNR bound every kernel's tile
// (the AVX-512 kernel's is 12x32). KernelShape gives the one in use.
const (
	MR    = 6
	NR    = 16
	MaxMR = 12
	MaxNR = 32
)

// SgemmKernel computes one tile of C with the micro-kernel in use, whose
// shape (mr, nr) KernelShape reports; it is SgemmKernel6x16's loop with
// MR = mr and NR = nr.
func SgemmKernel(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	mr, nr := KernelShape()
	if k < 0 || len(a) < k*mr || len(b) < k*nr || ldc < nr || len(c) < (mr-1)*ldc+nr {
		panic("asm: SgemmKernel: slices too short for the tile")
	}
	if k == 0 {
		a, b = zeroPanel[:], zeroPanel[:]
	}
	if useAVX512 {
		sgemmKernel12x32(k, a, b, c, ldc, alpha, beta)
		return
	}
	sgemmKernel6x16(k, a, b, c, ldc, alpha, beta)
}

// SgemmKernel6x16 computes one MR x NR tile of C from packed panels:
//
//	for i := 0; i < MR; i++ {
//		for j := 0; j < NR; j++ {
//			var s float32
//			for p := 0; p < k; p++ {
//				s += a[p*MR+i] * b[p*NR+j]
//			}
//			c[i*ldc+j] = alpha*s + beta*c[i*ldc+j] // C is not read when beta == 0
//		}
//	}
//
// a holds k columns of MR values (a packed A micro-panel), b holds k rows of
// NR values (a packed B micro-panel). The sums are accumulated with fused
// multiply-adds in the assembly and with separate multiplies and adds in the
// generic twin, so the two agree to rounding, not bit for bit. k may be 0,
// in which case a and b are not read and C is scaled by beta.
func SgemmKernel6x16(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	if k < 0 || len(a) < k*MR || len(b) < k*NR || ldc < NR || len(c) < (MR-1)*ldc+NR {
		panic("asm: SgemmKernel6x16: slices too short for the tile")
	}
	if k == 0 {
		// Give the kernels non-empty panels to take the address of.
		a, b = zeroPanel[:], zeroPanel[:]
	}
	sgemmKernel6x16(k, a, b, c, ldc, alpha, beta)
}

var zeroPanel [MaxNR]float32

// sgemmKernelGeneric is the pure-Go twin of the 6x16 SGEMM micro-kernel.
func sgemmKernelGeneric(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	sgemmKernelGenericShape(MR, NR, k, a, b, c, ldc, alpha, beta)
}

// sgemmKernelGenericShape is the micro-kernel for any tile of at most
// MaxMR x MaxNR with mr even and nr a multiple of 4. It walks the tile in
// 2x4 blocks, whose eight accumulators, two A and four B values fit the
// registers the Go compiler has for floats; the panels are walked with
// pointer arithmetic after one bounds check, since a checked index per load
// costs a quarter of the speed here.
func sgemmKernelGenericShape(MR, NR, k int, a, b, c []float32, ldc int, alpha, beta float32) {
	var acc [MaxMR * MaxNR]float32
	if k > 0 {
		_ = a[k*MR-1]
		_ = b[k*NR-1]
		sa, sb := uintptr(MR*4), uintptr(NR*4)
		for i := 0; i < MR; i += 2 {
			for j := 0; j < NR; j += 4 {
				var c00, c01, c02, c03, c10, c11, c12, c13 float32
				pa := unsafe.Pointer(&a[i])
				pb := unsafe.Pointer(&b[j])
				// Offsets, not advanced pointers: a pointer one step past
				// the last k would leave the panels' memory, which Go's
				// pointer rules forbid.
				var oa, ob uintptr
				for range k {
					av := (*[2]float32)(unsafe.Add(pa, oa))
					bv := (*[4]float32)(unsafe.Add(pb, ob))
					a0, a1 := av[0], av[1]
					b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
					c00 += a0 * b0
					c01 += a0 * b1
					c02 += a0 * b2
					c03 += a0 * b3
					c10 += a1 * b0
					c11 += a1 * b1
					c12 += a1 * b2
					c13 += a1 * b3
					oa += sa
					ob += sb
				}
				r0 := acc[i*NR+j : i*NR+j+4 : i*NR+j+4]
				r1 := acc[(i+1)*NR+j : (i+1)*NR+j+4 : (i+1)*NR+j+4]
				r0[0], r0[1], r0[2], r0[3] = c00, c01, c02, c03
				r1[0], r1[1], r1[2], r1[3] = c10, c11, c12, c13
			}
		}
	}
	for i := 0; i < MR; i++ {
		row := c[i*ldc : i*ldc+NR : i*ldc+NR]
		src := acc[i*NR : i*NR+NR : i*NR+NR]
		if beta == 0 {
			for j := range row {
				row[j] = alpha * src[j]
			}
		} else {
			for j := range row {
				row[j] = alpha*src[j] + beta*row[j]
			}
		}
	}
}

// fmaPeakFlopsPerIter is the work of one iteration of the peak loop:
// 12 FMAs on 8 lanes, 2 flops each.
const fmaPeakFlopsPerIter = 12 * 8 * 2

// FMAPeak runs iters iterations of a loop of independent AVX2 FMAs and
// returns the floating-point operations done, or 0 when the assembly kernels
// are not in use. Benchmarks divide by its time to get the FMA peak of one
// core, the ceiling for the SGEMM micro-kernel.
func FMAPeak(iters int) (flops int) { return fmaPeak(iters) }

// FMAPeakAVX512 is FMAPeak with 16-lane AVX-512 FMAs, or 0 where the CPU or
// build has no AVX-512.
func FMAPeakAVX512(iters int) (flops int) { return fmaPeak512(iters) }

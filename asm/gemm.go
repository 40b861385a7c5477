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

// SgemmKernelRows is SgemmKernel for the first rows rows of the tile only,
// 0 < rows <= mr of KernelShape: a still holds k columns of mr values, and
// only rows [0, rows) of C are read or written, so C may end after
// (rows-1)*ldc+nr values. It serves the last row of tiles of a block whose
// height is not a multiple of mr. The AVX-512 family has kernels for 4 and
// 8 rows, which a last row of 4 or 8 (M = 64, 128, 256, ...) runs directly,
// at a third or two thirds of the full kernel's work; other heights run
// the next larger kernel into a scratch tile and copy their rows out.
func SgemmKernelRows(rows, k int, a, b, c []float32, ldc int, alpha, beta float32) {
	mr, nr := KernelShape()
	if rows <= 0 || rows > mr || k < 0 || len(a) < k*mr || len(b) < k*nr || ldc < nr || len(c) < (rows-1)*ldc+nr {
		panic("asm: SgemmKernelRows: bad row count or slices too short for the rows")
	}
	if rows == mr {
		SgemmKernel(k, a, b, c, ldc, alpha, beta)
		return
	}
	if k == 0 {
		a, b = zeroPanel[:], zeroPanel[:]
	}
	if !useAVX2FMA {
		sgemmKernelGenericRows(rows, k, a, b, c, ldc, alpha, beta)
		return
	}
	kr := mr
	if useAVX512 {
		kr = (rows + 3) / 4 * 4
		if kr == rows {
			sgemmKernelTop(rows, k, a, b, c, ldc, alpha, beta)
			return
		}
	}
	var tile [MaxMR * MaxNR]float32
	switch {
	case kr == mr && useAVX512:
		sgemmKernel12x32(k, a, b, tile[:], nr, alpha, 0)
	case kr == mr:
		sgemmKernel6x16(k, a, b, tile[:], nr, alpha, 0)
	default:
		sgemmKernelTop(kr, k, a, b, tile[:], nr, alpha, 0)
	}
	for i := range rows {
		dst := c[i*ldc:][:nr]
		src := tile[i*nr:][:nr]
		if beta == 0 {
			copy(dst, src)
			continue
		}
		for j := range dst {
			dst[j] = src[j] + beta*dst[j]
		}
	}
}

var zeroPanel [MaxNR]float32

// sgemmKernelGeneric is the pure-Go twin of the 6x16 SGEMM micro-kernel.
func sgemmKernelGeneric(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	sgemmKernelGenericShape(MR, NR, k, a, b, c, ldc, alpha, beta)
}

// sgemmKernelGenericShape is the micro-kernel for any tile of at most
// MaxMR x MaxNR with mr a multiple of 6. It walks the tile one column of six
// rows at a time, two k steps per iteration: six accumulators, one B value
// and the A values loaded as operands leave the Go compiler's float
// registers free of spills, where wider blocks (2x4, 3x4) spill and ran at
// half the speed (about 3.5 against 7 GFLOP/s in cache). The panels are
// walked with pointer arithmetic after one bounds check, since a checked
// index per load costs a quarter of the speed here.
func sgemmKernelGenericShape(MR, NR, k int, a, b, c []float32, ldc int, alpha, beta float32) {
	if MR%6 != 0 {
		panic("asm: sgemmKernelGenericShape: the tile's rows must be a multiple of 6")
	}
	if k == 0 {
		for i := range MR {
			row := c[i*ldc : i*ldc+NR : i*ldc+NR]
			for j := range row {
				row[j] = scaled(0, alpha, beta, row[j])
			}
		}
		return
	}
	_ = a[k*MR-1]
	_ = b[k*NR-1]
	_ = c[(MR-1)*ldc+NR-1]
	sa, sb := uintptr(MR*4), uintptr(NR*4)
	for i := 0; i < MR; i += 6 {
		pa := unsafe.Pointer(&a[i])
		// The common cases, a first block of k and the later ones of a
		// product, without a multiply and a test per value (5% of a
		// k = 25 product).
		if alpha == 1 && beta == 0 {
			for j := range NR {
				c0, c1, c2, c3, c4, c5 := dot6(k, pa, unsafe.Pointer(&b[j]), sa, sb)
				col := c[i*ldc+j:]
				col[0], col[ldc], col[2*ldc] = c0, c1, c2
				col[3*ldc], col[4*ldc], col[5*ldc] = c3, c4, c5
			}
			continue
		}
		if alpha == 1 && beta == 1 {
			for j := range NR {
				c0, c1, c2, c3, c4, c5 := dot6(k, pa, unsafe.Pointer(&b[j]), sa, sb)
				col := c[i*ldc+j:]
				col[0] += c0
				col[ldc] += c1
				col[2*ldc] += c2
				col[3*ldc] += c3
				col[4*ldc] += c4
				col[5*ldc] += c5
			}
			continue
		}
		for j := range NR {
			c0, c1, c2, c3, c4, c5 := dot6(k, pa, unsafe.Pointer(&b[j]), sa, sb)
			col := c[i*ldc+j:]
			col[0] = scaled(c0, alpha, beta, col[0])
			col[ldc] = scaled(c1, alpha, beta, col[ldc])
			col[2*ldc] = scaled(c2, alpha, beta, col[2*ldc])
			col[3*ldc] = scaled(c3, alpha, beta, col[3*ldc])
			col[4*ldc] = scaled(c4, alpha, beta, col[4*ldc])
			col[5*ldc] = scaled(c5, alpha, beta, col[5*ldc])
		}
	}
}

// sgemmKernelGenericRows is the generic twin's kernel for the first rows
// rows (fewer than MR) of a 6x16 tile: one or two rows go two columns at a
// time, three or four through dot4, five through dot6 with its last row
// dropped. Running the whole tile into a scratch tile instead cost the
// work of six rows, which for M = 32 (5 tiles and 2 rows) was 11% of the
// product.
func sgemmKernelGenericRows(rows, k int, a, b, c []float32, ldc int, alpha, beta float32) {
	if k == 0 {
		for i := range rows {
			row := c[i*ldc : i*ldc+NR : i*ldc+NR]
			for j := range row {
				row[j] = scaled(0, alpha, beta, row[j])
			}
		}
		return
	}
	_ = a[k*MR-1]
	_ = b[k*NR-1]
	_ = c[(rows-1)*ldc+NR-1]
	sa, sb := uintptr(MR*4), uintptr(NR*4)
	pa := unsafe.Pointer(&a[0])
	switch {
	case rows <= 2:
		for j := 0; j < NR; j += 2 {
			c00, c01, c10, c11 := dot2x2(k, pa, unsafe.Pointer(&b[j]), sa, sb)
			c[j] = scaled(c00, alpha, beta, c[j])
			c[j+1] = scaled(c01, alpha, beta, c[j+1])
			if rows == 2 {
				c[ldc+j] = scaled(c10, alpha, beta, c[ldc+j])
				c[ldc+j+1] = scaled(c11, alpha, beta, c[ldc+j+1])
			}
		}
	case rows <= 4:
		for j := range NR {
			c0, c1, c2, c3 := dot4(k, pa, unsafe.Pointer(&b[j]), sa, sb)
			col := c[j:]
			col[0] = scaled(c0, alpha, beta, col[0])
			col[ldc] = scaled(c1, alpha, beta, col[ldc])
			col[2*ldc] = scaled(c2, alpha, beta, col[2*ldc])
			if rows == 4 {
				col[3*ldc] = scaled(c3, alpha, beta, col[3*ldc])
			}
		}
	default:
		for j := range NR {
			c0, c1, c2, c3, c4, _ := dot6(k, pa, unsafe.Pointer(&b[j]), sa, sb)
			col := c[j:]
			col[0] = scaled(c0, alpha, beta, col[0])
			col[ldc] = scaled(c1, alpha, beta, col[ldc])
			col[2*ldc] = scaled(c2, alpha, beta, col[2*ldc])
			col[3*ldc] = scaled(c3, alpha, beta, col[3*ldc])
			col[4*ldc] = scaled(c4, alpha, beta, col[4*ldc])
		}
	}
}

// scaled is alpha*s + beta*c, without reading c when beta is 0 (C may hold
// NaNs then, as BLAS allows).
func scaled(s, alpha, beta, c float32) float32 {
	if beta == 0 {
		return alpha * s
	}
	return alpha*s + beta*c
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

// dot6 returns the dot products of one B column (k values, sb bytes apart
// from pb) with six A rows (k groups of six values, sa bytes apart from pa):
// one column of six rows of a tile. It is a function of its own so that its
// loop has the integer registers to itself; inside the tile loops the
// compiler spilled the offsets to the stack. The offsets are not advanced
// pointers: a pointer one step past the last k would leave the panels'
// memory, which Go's pointer rules forbid.
//
// dot2x2 is dot6's loop for the first two rows of the A panel and two
// adjacent columns of B.
//
//go:noinline
func dot2x2(k int, pa, pb unsafe.Pointer, sa, sb uintptr) (c00, c01, c10, c11 float32) {
	var oa, ob uintptr
	for range k {
		av := (*[2]float32)(unsafe.Add(pa, oa))
		bv := (*[2]float32)(unsafe.Add(pb, ob))
		c00 += av[0] * bv[0]
		c01 += av[0] * bv[1]
		c10 += av[1] * bv[0]
		c11 += av[1] * bv[1]
		oa += sa
		ob += sb
	}
	return
}

// dot4 is dot6's loop for the first four rows of the A panel.
func dot4(k int, pa, pb unsafe.Pointer, sa, sb uintptr) (c0, c1, c2, c3 float32) {
	var oa, ob uintptr
	for range k / 2 {
		av := (*[4]float32)(unsafe.Add(pa, oa))
		b0 := *(*float32)(unsafe.Add(pb, ob))
		c0 += av[0] * b0
		c1 += av[1] * b0
		c2 += av[2] * b0
		c3 += av[3] * b0
		av = (*[4]float32)(unsafe.Add(pa, oa+sa))
		b0 = *(*float32)(unsafe.Add(pb, ob+sb))
		c0 += av[0] * b0
		c1 += av[1] * b0
		c2 += av[2] * b0
		c3 += av[3] * b0
		oa += 2 * sa
		ob += 2 * sb
	}
	if k%2 == 1 {
		av := (*[4]float32)(unsafe.Add(pa, oa))
		b0 := *(*float32)(unsafe.Add(pb, ob))
		c0 += av[0] * b0
		c1 += av[1] * b0
		c2 += av[2] * b0
		c3 += av[3] * b0
	}
	return
}

func dot6(k int, pa, pb unsafe.Pointer, sa, sb uintptr) (c0, c1, c2, c3, c4, c5 float32) {
	var oa, ob uintptr
	for range k / 2 {
		av := (*[6]float32)(unsafe.Add(pa, oa))
		b0 := *(*float32)(unsafe.Add(pb, ob))
		c0 += av[0] * b0
		c1 += av[1] * b0
		c2 += av[2] * b0
		c3 += av[3] * b0
		c4 += av[4] * b0
		c5 += av[5] * b0
		av = (*[6]float32)(unsafe.Add(pa, oa+sa))
		b0 = *(*float32)(unsafe.Add(pb, ob+sb))
		c0 += av[0] * b0
		c1 += av[1] * b0
		c2 += av[2] * b0
		c3 += av[3] * b0
		c4 += av[4] * b0
		c5 += av[5] * b0
		oa += 2 * sa
		ob += 2 * sb
	}
	if k%2 == 1 {
		av := (*[6]float32)(unsafe.Add(pa, oa))
		b0 := *(*float32)(unsafe.Add(pb, ob))
		c0 += av[0] * b0
		c1 += av[1] * b0
		c2 += av[2] * b0
		c3 += av[3] * b0
		c4 += av[4] * b0
		c5 += av[5] * b0
	}
	return
}

package asm

import "fmt"

// Transpose writes the m x n matrix in src (rows lds apart) transposed into
// dst (rows ldd apart): dst[j*ldd+i] = src[i*lds+j] for i < m, j < n.
// Nothing else in dst is written. With AVX-512 it moves 16 x 16 blocks
// through registers, about a quarter of a shuffle per element where an
// element-by-element copy costs a load and a scattered store; the GEMM
// packing of transposed operands is made of such transposes.
func Transpose(m, n int, src []float32, lds int, dst []float32, ldd int) {
	if m < 0 || n < 0 || lds < n || ldd < m {
		panic(fmt.Sprintf("asm: Transpose: bad shape %dx%d with strides %d, %d", m, n, lds, ldd))
	}
	if m == 0 || n == 0 {
		return
	}
	if len(src) < (m-1)*lds+n || len(dst) < (n-1)*ldd+m {
		panic(fmt.Sprintf("asm: Transpose: %dx%d needs %d source and %d destination values, have %d and %d",
			m, n, (m-1)*lds+n, (n-1)*ldd+m, len(src), len(dst)))
	}
	i0 := 0
	if blocks := n / 16; useAVX512 && blocks > 0 && m >= 16 {
		for ; i0+16 <= m; i0 += 16 {
			transpose16AVX512(&dst[i0], ldd, &src[i0*lds], lds, blocks)
		}
		// The columns past the last whole block, for the rows done so far.
		if j0 := blocks * 16; j0 < n {
			transposeGeneric(i0, n-j0, src[j0:], lds, dst[j0*ldd:], ldd)
		}
	}
	if i0 < m {
		transposeGeneric(m-i0, n, src[i0*lds:], lds, dst[i0:], ldd)
	}
}

// transposeGeneric is Transpose element by element.
func transposeGeneric(m, n int, src []float32, lds int, dst []float32, ldd int) {
	for i := range m {
		for j, v := range src[i*lds:][:n] {
			dst[j*ldd+i] = v
		}
	}
}

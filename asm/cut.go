package asm

import "fmt"

// CutPanels copies the rows x cols block of src (rows lds apart) into GEMM
// micro-panels of nr columns, stride apart: src[p*lds+j] goes to
// dst[(j/nr)*stride + p*nr + j%nr]. When cols is not a multiple of nr the
// last panel receives only its cols%nr leading values per row; nothing else
// in dst is written. With AVX2 and nr 16 or 32, four rows at a time reach
// each panel as one contiguous run of stores, so that B streams in row by
// row while the panels fill in whole cache lines: the element-by-element
// form scatters 64- or 128-byte pieces a panel apart and ran at half the
// speed of a plain copy.
func CutPanels(dst []float32, nr, stride int, src []float32, lds, rows, cols int) {
	if nr <= 0 || rows < 0 || cols < 0 || lds < cols || (rows > 1 && stride < rows*nr) || stride < 0 {
		panic(fmt.Sprintf("asm: CutPanels: bad shape: %dx%d block, stride %d, panels of %d columns %d apart",
			rows, cols, lds, nr, stride))
	}
	if rows == 0 || cols == 0 {
		return
	}
	last := (cols-1)/nr*stride + (rows-1)*nr + (cols-1)%nr + 1
	if len(src) < (rows-1)*lds+cols || len(dst) < last {
		panic(fmt.Sprintf("asm: CutPanels: %dx%d block needs %d source and %d destination values, have %d and %d",
			rows, cols, (rows-1)*lds+cols, last, len(src), len(dst)))
	}
	panels, groups := cols/nr, rows/4
	if useAVX2FMA && panels > 0 && groups > 0 && (nr == 16 || nr == 32) {
		if nr == 16 {
			cutPanels16AVX2(&dst[0], &src[0], groups, panels, lds, stride)
		} else {
			cutPanels32AVX2(&dst[0], &src[0], groups, panels, lds, stride)
		}
		// The rows past the last group of four, across the whole panels.
		if p0 := groups * 4; p0 < rows {
			cutPanelsGeneric(dst[p0*nr:], nr, stride, src[p0*lds:], lds, rows-p0, panels*nr)
		}
		// The columns of the partial panel, for every row.
		if j0 := panels * nr; j0 < cols {
			cutPanelsGeneric(dst[panels*stride:], nr, stride, src[j0:], lds, rows, cols-j0)
		}
		return
	}
	cutPanelsGeneric(dst, nr, stride, src, lds, rows, cols)
}

// cutPanelsGeneric is CutPanels in Go, in the assembly's order: each panel
// receives four rows' pieces in turn, one contiguous run. Walking a row at
// a time with the panel found by division ran at a third of the speed
// (1.6-2.2 against 0.55-0.60 ns per value, 16-column panels of a 384-row
// block); copy beat 16-byte array moves here.
func cutPanelsGeneric(dst []float32, nr, stride int, src []float32, lds, rows, cols int) {
	whole := cols / nr * nr
	for p0 := 0; p0 < rows; p0 += 4 {
		group := min(4, rows-p0)
		for j0, d0 := 0, p0*nr; j0 < whole; j0, d0 = j0+nr, d0+stride {
			for p := range group {
				copy(dst[d0+p*nr:][:nr], src[(p0+p)*lds+j0:][:nr])
			}
		}
	}
	if whole < cols {
		for p := range rows {
			copy(dst[whole/nr*stride+p*nr:], src[p*lds+whole:][:cols-whole])
		}
	}
}

package tensor

import (
	"sync"

	"github.com/halo-ml/halo/asm"
)

// im2colB is the column matrix of a chunk of images seen as the right
// operand of the blocked GEMM (matB): its panels are packed straight from
// the images, so the column matrix never exists in memory beyond one row
// (or NR rows) at a time. With trans it is the transposed column matrix,
// the right operand of a weight gradient.
type im2colB struct {
	q     *colGeom
	img   []float32
	trans bool
	tab   *colTable // nil: generate rows segment by segment (im2colRows)
}

// colTable lists, for each kernel tap k = kh*KW + kw and each column j of
// a chunk's column matrix, where the element comes from: the offset of the
// image element relative to the first element of channel 0 of the chunk
// (n*C*H*W + ih*W + iw), or -1 for padding. Row r = c*KH*KW + k of the
// column matrix is then img[c*H*W + off[k*cols + j]]. Narrow images have
// rows of a few pixels, and looking the sources up costs less than working
// out each short run; the transposed packing, which interleaves rows
// element by element, gains from it on wider rows too (convTableMaxW).
type colTable struct {
	off   []int32
	cols  int
	plane int
}

var colTablePool sync.Pool // *[]int32

// newColTable builds the table of the columns of nb images.
func newColTable(q *colGeom, nb int) *colTable {
	kk := q.kh * q.kw
	per := q.ch * q.cw
	cols := nb * per
	p, _ := colTablePool.Get().(*[]int32)
	if p == nil || cap(*p) < kk*cols {
		b := make([]int32, kk*cols)
		p = &b
	}
	t := &colTable{off: (*p)[:kk*cols], cols: cols, plane: q.h * q.w}
	for k := range kk {
		kh, kw := k/q.kw, k%q.kw
		row := t.off[k*cols:][:cols]
		for n := range nb {
			for oh := range q.ch {
				ih := oh*q.sh - q.ph + kh*q.dh
				seg := row[n*per+oh*q.cw:][:q.cw]
				for ow := range seg {
					iw := ow*q.sw - q.pw + kw*q.dw
					if ih < 0 || ih >= q.h || iw < 0 || iw >= q.w {
						seg[ow] = -1
					} else {
						seg[ow] = int32(n*q.c*t.plane + ih*q.w + iw)
					}
				}
			}
		}
	}
	return t
}

func (t *colTable) release() {
	if t != nil {
		colTablePool.Put(&t.off)
	}
}

// tableFits reports whether nb images of q can be indexed by a colTable.
func tableFits(q *colGeom, nb int) bool {
	return int64(nb)*int64(q.c)*int64(q.h*q.w) < 1<<31
}

// scatterRows adds rows [r0, r0+nr) and columns [j0, j0+nc) of a column
// matrix, row r at src[(r-r0)*lds:], into the images: col2imRows by table
// (sixteen at a time with AVX-512). Within a row no two columns share a
// pixel (TestColTableRowsDistinct), so asm.ScatterAddDistinct applies.
func (t *colTable) scatterRows(q *colGeom, src []float32, lds, r0, nr, j0, nc int, img []float32) {
	kk := q.kh * q.kw
	for r := r0; r < r0+nr; r++ {
		c, k := r/kk, r%kk
		asm.ScatterAddDistinct(img[c*t.plane:], src[(r-r0)*lds:][:nc], t.off[k*t.cols+j0:][:nc])
	}
}

var packRowPool sync.Pool // *[]float32 row buffers for im2colB

func packRow(n int) *[]float32 {
	p, _ := packRowPool.Get().(*[]float32)
	if p == nil || cap(*p) < n {
		b := make([]float32, n)
		p = &b
	}
	return p
}

// packB writes rows [p0, p0+kc) and columns [j0, j0+nc) of op(B) to dst as
// micro-panels of nr columns, kc rows each, zero-padding the last panel.
func (b im2colB) packB(dst []float32, p0, kc, j0, nc, nr int) {
	switch {
	case b.trans:
		b.packTrans(dst, p0, kc, j0, nc, nr)
	case b.tab != nil && b.q.cw < convRunsMinW:
		b.packTable(dst, p0, kc, j0, nc, nr)
	default:
		b.packRuns(dst, p0, kc, j0, nc, nr)
	}
}

// packRuns builds the block's rows from runs of pixels (im2colRows), a few
// at a time, and cuts them into the panels.
func (b im2colB) packRuns(dst []float32, p0, kc, j0, nc, nr int) {
	const group = 4 // rows per cut: CutPanels moves four rows per panel at once
	buf := packRow(group * nc)
	defer packRowPool.Put(buf)
	for p := 0; p < kc; p += group {
		rows := min(group, kc-p)
		block := (*buf)[:rows*nc]
		im2colRows(b.q, b.img, p0+p, rows, j0, nc, block, nc)
		cutRows(dst, block, nc, p, rows, kc, nc, nr)
	}
}

// packTable gathers each row of the block through the table straight into
// its place in the panels (asm.GatherPanels: sixteen lanes at a time with
// AVX-512, padding as index -1), zero-padding the last panel.
func (b im2colB) packTable(dst []float32, p0, kc, j0, nc, nr int) {
	t := b.tab
	kk := b.q.kh * b.q.kw
	full := nc / nr * nr
	for p := range kc {
		r := p0 + p
		src := b.img[r/kk*t.plane:]
		off := t.off[r%kk*t.cols+j0:][:nc]
		if full > 0 {
			asm.GatherPanels(dst[p*nr:], nr, kc*nr, src, off[:full])
		}
		if full < nc {
			d := dst[full*kc+p*nr:][:nr]
			asm.Gather(d[:nc-full], src, off[full:])
			clear(d[nc-full:])
		}
	}
}

// cutRows writes rows [p, p+rows) of a block of op(B), nc columns each and
// held in src ld apart, into the block's kc x nr micro-panels, zero-padding
// the columns of the last panel past nc.
func cutRows(dst, src []float32, ld, p, rows, kc, nc, nr int) {
	asm.CutPanels(dst[p*nr:], nr, kc*nr, src, ld, rows, nc)
	if full := nc / nr * nr; full < nc {
		pad := dst[full*kc+p*nr:][:rows*nr]
		for i := range rows {
			clear(pad[i*nr+nc-full : (i+1)*nr])
		}
	}
}

// packTrans packs op(B) = colᵀ: its rows are columns of the column matrix
// and its columns are rows, so each panel is NR rows of the column matrix,
// generated together and interleaved.
func (b im2colB) packTrans(dst []float32, p0, kc, j0, nc, nr int) {
	buf := packRow(nr * kc)
	defer packRowPool.Put(buf)
	rows := (*buf)[:nr*kc]
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		panel := dst[(jr/nr)*kc*nr:][:kc*nr]
		if cols < nr {
			clear(panel)
		}
		if t := b.tab; t != nil {
			kk := b.q.kh * b.q.kw
			for c := range cols {
				r := j0 + jr + c
				asm.Gather(rows[c*kc:][:kc], b.img[r/kk*t.plane:], t.off[r%kk*t.cols+p0:][:kc])
			}
		} else {
			im2colRows(b.q, b.img, j0+jr, cols, p0, kc, rows, kc)
		}
		asm.Transpose(cols, kc, rows, kc, panel, nr)
	}
}

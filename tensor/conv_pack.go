package tensor

import "sync"

// im2colB is the column matrix of a chunk of images seen as the right
// operand of the blocked GEMM (matB): its panels are packed straight from
// the images, so the column matrix never exists in memory beyond one row
// (or NR rows) at a time. With trans it is the transposed column matrix,
// the right operand of a weight gradient.
type im2colB struct {
	q     *colGeom
	img   []float32
	trans bool
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
// micro-panels of NR columns, kc rows each, zero-padding the last panel.
func (b im2colB) packB(dst []float32, p0, kc, j0, nc int) {
	if b.trans {
		b.packTrans(dst, p0, kc, j0, nc)
		return
	}
	buf := packRow(nc)
	defer packRowPool.Put(buf)
	row := (*buf)[:nc]
	full := nc / nr * nr
	for p := range kc {
		// One row of the column matrix, then cut into the panels.
		im2colRows(b.q, b.img, p0+p, 1, j0, nc, row, nc)
		for jr := 0; jr < full; jr += nr {
			*(*[nr]float32)(dst[(jr/nr)*kc*nr+p*nr:]) = *(*[nr]float32)(row[jr:])
		}
		if full < nc {
			d := dst[(full/nr)*kc*nr+p*nr:][:nr]
			clear(d[copy(d, row[full:]):])
		}
	}
}

// packTrans packs op(B) = colᵀ: its rows are columns of the column matrix
// and its columns are rows, so each panel is NR rows of the column matrix,
// generated together and interleaved.
func (b im2colB) packTrans(dst []float32, p0, kc, j0, nc int) {
	buf := packRow(nr * kc)
	defer packRowPool.Put(buf)
	rows := (*buf)[:nr*kc]
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		im2colRows(b.q, b.img, j0+jr, cols, p0, kc, rows, kc)
		panel := dst[(jr/nr)*kc*nr:][:kc*nr]
		if cols < nr {
			clear(panel)
		}
		for c := range cols {
			src := rows[c*kc:][:kc]
			for p, v := range src {
				panel[p*nr+c] = v
			}
		}
	}
}

package tensor

import (
	"fmt"
	"runtime"
)

// colGeom is the index arithmetic of one column matrix (laid out as
// described on ConvGeom), copied out of a ConvGeom once per call.
type colGeom struct {
	c, h, w int // image channels, height, width
	ch, cw  int // column-side height and width
	kh, kw  int // kernel
	sh, sw  int // stride
	ph, pw  int // padding before the first row and column
	dh, dw  int // dilation
}

func (g ConvGeom) colGeom() colGeom {
	return colGeom{
		c: g.imgC(), h: g.imgH(), w: g.imgW(),
		ch: g.colH(), cw: g.colW(),
		kh: g.KH, kw: g.KW,
		sh: g.StrideH, sw: g.StrideW,
		ph: g.PadH, pw: g.PadW,
		dh: g.DilH, dw: g.DilW,
	}
}

// rows is the number of rows of the column matrix.
func (q *colGeom) rows() int { return q.c * q.kh * q.kw }

// validCols returns the column-side positions o in [lo, hi) whose image
// position o*s + off lies inside [0, n), clipped to [0, m).
func validCols(off, s, n, m int) (lo, hi int) {
	if off < 0 {
		lo = (-off + s - 1) / s
	}
	if n-off > 0 {
		hi = (n - off + s - 1) / s
	}
	lo = min(lo, m)
	hi = min(max(hi, lo), m)
	return lo, hi
}

// im2colRows writes rows [r0, r0+nr) and columns [j0, j0+nc) of the column
// matrix of the images in img into dst, row r at dst[(r-r0)*ldd:].
// Arguments are not checked.
func im2colRows(q *colGeom, img []float32, r0, nr, j0, nc int, dst []float32, ldd int) {
	kk := q.kh * q.kw
	per := q.ch * q.cw
	plane := q.h * q.w
	for r := r0; r < r0+nr; r++ {
		c, kh, kw := r/kk, r%kk/q.kw, r%q.kw
		offH := kh*q.dh - q.ph
		offW := kw*q.dw - q.pw
		lo, hi := validCols(offW, q.sw, q.w, q.cw)
		row := dst[(r-r0)*ldd:][:nc]
		n, p := j0/per, j0%per
		oh, ow := p/q.cw, p%q.cw
		for i := 0; i < nc; {
			// One segment: the columns of output row oh of image n.
			seg := min(q.cw-ow, nc-i)
			out := row[i : i+seg]
			ih := oh*q.sh + offH
			if ih < 0 || ih >= q.h {
				clear(out)
			} else {
				src := img[(n*q.c+c)*plane+ih*q.w:][:q.w]
				a := min(max(lo, ow), ow+seg)
				e := min(max(hi, a), ow+seg)
				clear(out[:a-ow])
				mid := out[a-ow : e-ow]
				switch {
				case len(mid) == 0:
				case q.sw == 1:
					copy(mid, src[a+offW:])
				default:
					s := a*q.sw + offW
					for t := range mid {
						mid[t] = src[s+t*q.sw]
					}
				}
				clear(out[e-ow:])
			}
			i += seg
			ow = 0
			if oh++; oh == q.ch {
				oh = 0
				n++
			}
		}
	}
}

// col2imRows adds rows [r0, r0+nr) and columns [j0, j0+nc) of a column
// matrix, row r at src[(r-r0)*lds:], into the images in img: the adjoint of
// im2colRows. Arguments are not checked.
func col2imRows(q *colGeom, src []float32, lds, r0, nr, j0, nc int, img []float32) {
	kk := q.kh * q.kw
	per := q.ch * q.cw
	plane := q.h * q.w
	for r := r0; r < r0+nr; r++ {
		c, kh, kw := r/kk, r%kk/q.kw, r%q.kw
		offH := kh*q.dh - q.ph
		offW := kw*q.dw - q.pw
		lo, hi := validCols(offW, q.sw, q.w, q.cw)
		row := src[(r-r0)*lds:][:nc]
		n, p := j0/per, j0%per
		oh, ow := p/q.cw, p%q.cw
		for i := 0; i < nc; {
			seg := min(q.cw-ow, nc-i)
			ih := oh*q.sh + offH
			if ih >= 0 && ih < q.h {
				dst := img[(n*q.c+c)*plane+ih*q.w:][:q.w]
				a := min(max(lo, ow), ow+seg)
				e := min(max(hi, a), ow+seg)
				in := row[i+a-ow : i+e-ow]
				switch {
				case len(in) == 0:
				case q.sw == 1:
					d := dst[a+offW:][:len(in)]
					for t, v := range in {
						d[t] += v
					}
				default:
					s := a*q.sw + offW
					for t, v := range in {
						dst[s+t*q.sw] += v
					}
				}
			}
			i += seg
			ow = 0
			if oh++; oh == q.ch {
				oh = 0
				n++
			}
		}
	}
}

// checkBlock panics unless rows [r0, r0+nr) and columns [j0, j0+nc) lie in
// the column matrix of g and the slices are long enough.
func checkBlock(op string, g ConvGeom, img []float32, r0, nr, j0, nc int, m []float32, ld int) {
	g.Validate()
	rows, cols := g.ColRows(), g.ColCols()
	if r0 < 0 || nr < 0 || r0+nr > rows || j0 < 0 || nc < 0 || j0+nc > cols {
		panic(fmt.Sprintf("tensor: %s: block rows [%d,%d) columns [%d,%d) outside the %dx%d column matrix of %v",
			op, r0, r0+nr, j0, j0+nc, rows, cols, g))
	}
	if need := g.N * g.imgC() * g.imgH() * g.imgW(); len(img) < need {
		panic(fmt.Sprintf("tensor: %s: image slice has %d elements, image %s needs %d",
			op, len(img), ShapeString(g.ImageShape()), need))
	}
	if nr > 0 && nc > 0 {
		if ld < nc {
			panic(fmt.Sprintf("tensor: %s: row stride %d < block width %d", op, ld, nc))
		}
		if need := (nr-1)*ld + nc; len(m) < need {
			panic(fmt.Sprintf("tensor: %s: block slice has %d elements, %dx%d block with row stride %d needs %d",
				op, len(m), nr, nc, ld, need))
		}
	}
}

// Im2colBlock writes rows [r0, r0+nr) and columns [j0, j0+nc) of the column
// matrix of the g.N images in img (the geometry's ImageShape, NCHW) into
// dst, row r0+i at dst[i*ldd:]. The rows and columns are those of the layout
// described on ConvGeom: it fills any block of the matrix, so a GEMM can pack
// its B panels straight from the images without the whole matrix.
func Im2colBlock(g ConvGeom, img []float32, r0, nr, j0, nc int, dst []float32, ldd int) {
	checkBlock("Im2colBlock", g, img, r0, nr, j0, nc, dst, ldd)
	q := g.colGeom()
	im2colRows(&q, img, r0, nr, j0, nc, dst, ldd)
}

// Col2imBlock adds the block of rows [r0, r0+nr) and columns [j0, j0+nc) of
// a column matrix, row r0+i at src[i*lds:], into the g.N images in img: the
// adjoint of Im2colBlock. It accumulates: img is not cleared first.
func Col2imBlock(g ConvGeom, src []float32, lds, r0, nr, j0, nc int, img []float32) {
	checkBlock("Col2imBlock", g, img, r0, nr, j0, nc, src, lds)
	q := g.colGeom()
	col2imRows(&q, src, lds, r0, nr, j0, nc, img)
}

// Im2col writes the whole column matrix of the g.N images in img into col:
// g.ColRows() rows of g.ColCols() columns, row-major (layout on ConvGeom).
func Im2col(g ConvGeom, img, col []float32) {
	rows, cols := g.ColRows(), g.ColCols()
	checkBlock("Im2col", g, img, 0, rows, 0, cols, col, cols)
	q := g.colGeom()
	im2colPar(runtime.GOMAXPROCS(0), &q, img, 0, rows, 0, cols, col, cols)
}

// Col2im adds the column matrix col (g.ColRows() x g.ColCols(), row-major)
// into the g.N images in img: the adjoint of Im2col, so overlapping kernel
// windows sum. It accumulates: img is not cleared first.
func Col2im(g ConvGeom, col, img []float32) {
	rows, cols := g.ColRows(), g.ColCols()
	checkBlock("Col2im", g, img, 0, rows, 0, cols, col, cols)
	q := g.colGeom()
	col2imPar(runtime.GOMAXPROCS(0), &q, nil, col, cols, 0, rows, 0, cols, img)
}

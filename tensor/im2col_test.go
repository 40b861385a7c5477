package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// colEntry is the definition of one element of the column matrix: the image
// element it copies, or -1 for padding.
func colEntry(g ConvGeom, r, j int) int {
	c, kh, kw := r/(g.KH*g.KW), r/g.KW%g.KH, r%g.KW
	per := g.colH() * g.colW()
	n, oh, ow := j/per, j%per/g.colW(), j%g.colW()
	ih := oh*g.StrideH - g.PadH + kh*g.DilH
	iw := ow*g.StrideW - g.PadW + kw*g.DilW
	if ih < 0 || ih >= g.imgH() || iw < 0 || iw >= g.imgW() {
		return -1
	}
	return ((n*g.imgC()+c)*g.imgH()+ih)*g.imgW() + iw
}

func absF64(s []float32) []float64 {
	a := make([]float64, len(s))
	for i, v := range s {
		a[i] = math.Abs(float64(v))
	}
	return a
}

func imgLen(g ConvGeom) int { return g.N * g.imgC() * g.imgH() * g.imgW() }

func TestIm2colBlocks(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 80 {
		g := randGeom(r, i%2 == 1)
		rows, cols := g.ColRows(), g.ColCols()
		img := randF32(r, imgLen(g))
		t.Run(fmt.Sprintf("%d/%v", i, g), func(t *testing.T) {
			// The whole matrix.
			col := randF32(r, rows*cols)
			Im2col(g, img, col)
			for rr := range rows {
				for j := range cols {
					want := float32(0)
					if e := colEntry(g, rr, j); e >= 0 {
						want = img[e]
					}
					if got := col[rr*cols+j]; got != want {
						t.Fatalf("Im2col row %d column %d: %g, want %g", rr, j, got, want)
					}
				}
			}
			// A random block with a row stride wider than the block; the
			// elements between rows stay untouched.
			r0, c0 := r.IntN(rows), r.IntN(cols)
			nr, nc := 1+r.IntN(rows-r0), 1+r.IntN(cols-c0)
			ld := nc + r.IntN(3)
			dst := make([]float32, nr*ld)
			for k := range dst {
				dst[k] = float32(math.NaN())
			}
			Im2colBlock(g, img, r0, nr, c0, nc, dst, ld)
			for a := range nr {
				for b := range ld {
					got := dst[a*ld+b]
					if b >= nc {
						if !math.IsNaN(float64(got)) {
							t.Fatalf("Im2colBlock wrote outside the block at row %d column %d", a, b)
						}
						continue
					}
					want := float32(0)
					if e := colEntry(g, r0+a, c0+b); e >= 0 {
						want = img[e]
					}
					if got != want {
						t.Fatalf("Im2colBlock row %d column %d: %g, want %g", r0+a, c0+b, got, want)
					}
				}
			}
			// Col2imBlock of the same block scatter-adds it (the definition
			// of the adjoint) into images that already hold values.
			src := randF32(r, nr*ld)
			base := randF32(r, imgLen(g))
			want, scale := to64(base), absF64(base)
			for a := range nr {
				for b := range nc {
					if e := colEntry(g, r0+a, c0+b); e >= 0 {
						want[e] += float64(src[a*ld+b])
						scale[e] += math.Abs(float64(src[a*ld+b]))
					}
				}
			}
			got := append([]float32(nil), base...)
			Col2imBlock(g, src, ld, r0, nr, c0, nc, got)
			closeTo(t, "Col2imBlock", got, want, scale, 1e-6)
			// The whole Col2im, split over goroutines by channel.
			full := randF32(r, rows*cols)
			want, scale = to64(base), absF64(base)
			for rr := range rows {
				for j := range cols {
					if e := colEntry(g, rr, j); e >= 0 {
						want[e] += float64(full[rr*cols+j])
						scale[e] += math.Abs(float64(full[rr*cols+j]))
					}
				}
			}
			got = append([]float32(nil), base...)
			old := convParMin
			convParMin = 1
			Col2im(g, full, got)
			convParMin = old
			closeTo(t, "Col2im", got, want, scale, 1e-6)
		})
	}
}

// TestIm2colAdjoint checks <Im2col(x), C> = <x, Col2im(C)> in float64.
func TestIm2colAdjoint(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 1))
	for range 40 {
		g := randGeom(r, r.IntN(2) == 0)
		x := randF32(r, imgLen(g))
		c := randF32(r, g.ColRows()*g.ColCols())
		col := make([]float32, len(c))
		Im2col(g, x, col)
		back := make([]float32, len(x))
		Col2im(g, c, back)
		var lhs, rhs, scale float64
		for i := range c {
			lhs += float64(col[i]) * float64(c[i])
			scale += math.Abs(float64(col[i]) * float64(c[i]))
		}
		for i := range x {
			rhs += float64(x[i]) * float64(back[i])
		}
		if math.Abs(lhs-rhs) > 1e-6*(scale+1) {
			t.Errorf("%v: <im2col x, c> = %g, <x, col2im c> = %g", g, lhs, rhs)
		}
	}
}

func TestIm2colPanics(t *testing.T) {
	g := Conv2dGeom([]int{1, 2, 5, 5}, []int{3, 2, 3, 3}, ConvParams{})
	img := make([]float32, g.InLen())
	mustPanicPrefix(t, "tensor: Im2colBlock: block rows [10,20) columns [0,9) outside the 18x9 column matrix", func() {
		Im2colBlock(g, img, 10, 10, 0, 9, make([]float32, 200), 9)
	})
	mustPanic(t, "tensor: Im2col: image slice has 49 elements, image [1 2 5 5] needs 50", func() {
		Im2col(g, img[:49], make([]float32, 18*9))
	})
	mustPanic(t, "tensor: Col2imBlock: row stride 4 < block width 5", func() {
		Col2imBlock(g, make([]float32, 100), 4, 0, 2, 0, 5, img)
	})
	mustPanic(t, "tensor: Col2im: block slice has 100 elements, 18x9 block with row stride 9 needs 162", func() {
		Col2im(g, make([]float32, 100), img)
	})
}

// TestColTableRowsDistinct checks the premise of colTable.scatterRows'
// use of asm.ScatterAddDistinct: within one row of a column matrix (one
// kernel tap, over the columns of a chunk of images) no pixel appears
// twice, for random Conv2d and ConvTranspose2d geometries of one and
// several images.
func TestColTableRowsDistinct(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for i := range 200 {
		g := randGeom(r, i%2 == 1)
		q := g.colGeom()
		for _, nb := range []int{1, g.N} {
			tab := newColTable(&q, nb)
			for k := range q.kh * q.kw {
				seen := map[int32]bool{}
				for j, o := range tab.off[k*tab.cols:][:tab.cols] {
					if o < 0 {
						continue
					}
					if seen[o] {
						t.Fatalf("%v, %d images: tap %d reaches pixel %d twice (column %d)", g, nb, k, o, j)
					}
					seen[o] = true
				}
			}
			tab.release()
		}
	}
}

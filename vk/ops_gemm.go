//go:build cgo && linux

package vk

import (
	"fmt"

	"github.com/halo-ml/halo/tensor"
)

// gemmTile is one tiling of gemm.comp: a WG-invocation workgroup computes a
// BM x BN tile of C in BK-deep steps, TM x TN values per invocation.
type gemmTile struct{ wg, bm, bn, bk, tm, tn int }

func (t gemmTile) spec() []uint32 {
	return []uint32{uint32(t.wg), uint32(t.bm), uint32(t.bn), uint32(t.bk), uint32(t.tm), uint32(t.tn)}
}

func (t gemmTile) shared() int { return (t.bm + t.bn) * t.bk * 4 }

type gemmTiles struct{ huge, large, small gemmTile }

// chooseGemmTiles sizes the tiles from the device's limits: 128x128 tiles
// with an 8x8 register block for big products, 64x64 with 4x4 blocks, both
// on 256 invocations where allowed (every desktop GPU; 128 otherwise, with
// taller blocks), and 32x32 tiles for products too small to fill the
// device with larger ones.
func chooseGemmTiles(l Limits) gemmTiles {
	t := gemmTiles{
		huge:  gemmTile{256, 128, 128, 8, 8, 8},
		large: gemmTile{256, 64, 64, 16, 4, 4},
		small: gemmTile{64, 32, 32, 16, 4, 4},
	}
	if l.MaxWorkgroupInvocations < 256 {
		t.huge = gemmTile{128, 128, 128, 8, 16, 8}
		t.large = gemmTile{128, 64, 64, 16, 8, 4}
	}
	if l.MaxSharedMemory < t.large.shared() {
		t.large = t.small
	}
	if l.MaxSharedMemory < t.huge.shared() {
		t.huge = t.large
	}
	return t
}

// tileFor picks the largest tiling that still gives the device enough
// workgroups: 256 tiles of 128x128, else 64 of 64x64, else 32x32.
func (t gemmTiles) tileFor(m, n, batch int) gemmTile {
	tiles := func(s int) int { return (m + s - 1) / s * ((n + s - 1) / s) * batch }
	switch {
	case tiles(128) >= 256:
		return t.huge
	case tiles(64) >= 64:
		return t.large
	}
	return t.small
}

// extent is one past the last value a batch of row-major matrices touches.
func extent(off, stride, batch, rows, cols, ld int) int {
	if rows == 0 || cols == 0 || batch == 0 {
		return off
	}
	return off + (batch-1)*stride + (rows-1)*ld + cols
}

// Gemm runs C_i = alpha*op(A_i)*op(B_i) + beta*C_i for each i < Batch.
func (b *Backend) Gemm(g tensor.GemmArgs, a, bm, cm tensor.Buffer) {
	defer b.enter()()
	c := b.call("Gemm")
	ad, bd, cd := c.in(a), c.in(bm), c.out(cm)
	batch := max(g.Batch, 1)
	ar, ac := g.M, g.K
	if g.TransA {
		ar, ac = g.K, g.M
	}
	br, bc := g.K, g.N
	if g.TransB {
		br, bc = g.N, g.K
	}
	if g.M < 0 || g.N < 0 || g.K < 0 || g.OffA < 0 || g.OffB < 0 || g.OffC < 0 ||
		(batch > 1 && (g.StrideA < 0 || g.StrideB < 0 || g.StrideC < 0)) {
		panic(fmt.Sprintf("vk: Gemm: negative size, offset or stride in %+v", g))
	}
	if g.Lda < max(ac, 1) || g.Ldb < max(bc, 1) || g.Ldc < max(g.N, 1) {
		panic(fmt.Sprintf("vk: Gemm: leading dimension too small in %+v", g))
	}
	if extent(g.OffA, g.StrideA, batch, ar, ac, g.Lda) > ad.n || extent(g.OffB, g.StrideB, batch, br, bc, g.Ldb) > bd.n ||
		extent(g.OffC, g.StrideC, batch, g.M, g.N, g.Ldc) > cd.n {
		panic(fmt.Sprintf("vk: Gemm: %+v reaches past buffers of %d, %d, %d values", g, ad.n, bd.n, cd.n))
	}
	if g.M == 0 || g.N == 0 {
		c.done()
		return
	}
	// K = 0 or alpha = 0 still scale C by beta, as the CPU does: the kernel
	// handles both with an empty product.
	offA, offB := int(ad.elemOff())+g.OffA, int(bd.elemOff())+g.OffB
	t := b.gemmTiles.tileFor(g.M, g.N, batch)
	name := "gemm_" + map[bool]string{false: "n", true: "t"}[g.TransA] + map[bool]string{false: "n", true: "t"}[g.TransB]
	aligned := func(v ...int) bool {
		for _, x := range v {
			if x%4 != 0 {
				return false
			}
		}
		return true
	}
	if aligned(offA, offB, g.Lda, g.Ldb) && (batch == 1 || aligned(g.StrideA, g.StrideB)) {
		name += "_vec4"
	}
	k := kernel{name, 3, t.spec()}
	maxZ := b.d.limits.MaxWorkgroupCount[2]
	gx, gy := (g.N+t.bn-1)/t.bn, (g.M+t.bm-1)/t.bm
	if gx > b.d.limits.MaxWorkgroupCount[0] || gy > b.d.limits.MaxWorkgroupCount[1] {
		panic(fmt.Sprintf("vk: Gemm: %dx%d is too large for the device's grid", g.M, g.N))
	}
	for z0 := 0; z0 < batch; z0 += maxZ {
		nz := min(maxZ, batch-z0)
		push := []uint32{uint32(g.M), uint32(g.N), uint32(g.K), uint32(g.Lda), uint32(g.Ldb), uint32(g.Ldc),
			uint32(offA), uint32(offB), cd.elemOff() + uint32(g.OffC),
			uint32(g.StrideA), uint32(g.StrideB), uint32(g.StrideC), uint32(z0), f32(g.Alpha), f32(g.Beta)}
		b.dispatch(k, push, gx, gy, nz, ad, bd, cd)
	}
	c.done()
}

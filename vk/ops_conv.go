//go:build cgo && linux

package vk

import (
	"fmt"

	"github.com/halo-ml/halo/tensor"
)

// convPush is the push-constant block of im2col.comp after its first word.
func convPush(g tensor.ConvGeom) []uint32 {
	img := g.ImageShape()
	var ch, cw int
	if g.Transposed {
		ch, cw = g.H, g.W
	} else {
		ch, cw = g.OutH(), g.OutW()
	}
	return []uint32{uint32(img[1]), uint32(img[2]), uint32(img[3]), uint32(ch), uint32(cw),
		uint32(g.KH), uint32(g.KW), uint32(g.StrideH), uint32(g.StrideW),
		uint32(int32(g.PadH)), uint32(int32(g.PadW)), uint32(g.DilH), uint32(g.DilW)}
}

func convLens(op string, g tensor.ConvGeom, img, col *Buffer) {
	g.Validate()
	s := g.ImageShape()
	if n := s[0] * s[1] * s[2] * s[3]; img.n != n {
		panic(fmt.Sprintf("vk: %s: image buffer of %d values for %v (want %d)", op, img.n, g, n))
	}
	if n := g.ColRows() * g.ColCols(); col.n != n {
		panic(fmt.Sprintf("vk: %s: column buffer of %d values for %v (want %d)", op, col.n, g, n))
	}
}

// Im2col fills the column matrix of g from a batch of images.
func (b *Backend) Im2col(g tensor.ConvGeom, img, col tensor.Buffer) {
	defer b.enter()()
	c := b.call("Im2col")
	id, cd := c.in(img), c.out(col)
	convLens("Im2col", g, id, cd)
	push := append([]uint32{uint32(cd.n)}, convPush(g)...)
	push = append(push, id.elemOff(), cd.elemOff())
	b.dispatch1D(kernel{"im2col", 2, nil}, cd.n, push, id, cd)
	c.done()
}

// Col2im adds the column matrix of g back into the images.
func (b *Backend) Col2im(g tensor.ConvGeom, col, img tensor.Buffer) {
	defer b.enter()()
	c := b.call("Col2im")
	cd, id := c.in(col), c.out(img)
	convLens("Col2im", g, id, cd)
	push := append([]uint32{uint32(id.n)}, convPush(g)...)
	push = append(push, id.elemOff(), cd.elemOff())
	b.dispatch1D(kernel{"col2im", 2, nil}, id.n, push, id, cd)
	c.done()
}

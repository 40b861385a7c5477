//go:build cgo && linux

package vk

import (
	"fmt"

	"github.com/halo-ml/halo/tensor"
)

func b2u(v bool) uint32 {
	if v {
		return 1
	}
	return 0
}

func checkBN(op string, a tensor.BatchNormArgs, full *Buffer, perChannel ...*Buffer) {
	if a.N < 0 || a.C < 0 || a.HW < 0 || full.n != a.N*a.C*a.HW {
		panic(fmt.Sprintf("vk: %s: %d values for [N C HW] = [%d %d %d]", op, full.n, a.N, a.C, a.HW))
	}
	for _, p := range perChannel {
		if p != nil && p.n != a.C {
			panic(fmt.Sprintf("vk: %s: per-channel buffer of %d values for C = %d", op, p.n, a.C))
		}
	}
}

// bnPush is batchnorm.comp's push block: sizes, then the offsets of the ten
// bindings (a nil buffer is bound to x, offset 0, and never read).
func bnPush(a tensor.BatchNormArgs, bufs []*Buffer) []uint32 {
	push := []uint32{uint32(a.N), uint32(a.C), uint32(a.HW), f32(a.Eps), f32(a.Momentum)}
	for i, x := range bufs {
		if x == nil {
			bufs[i] = bufs[0]
			push = append(push, 0)
			continue
		}
		push = append(push, x.elemOff())
	}
	return push
}

// BatchNorm normalises x into y per channel (see tensor.BatchNormArgs).
func (b *Backend) BatchNorm(a tensor.BatchNormArgs, x, gamma, beta, runMean, runVar, saveMean, saveInvStd, y tensor.Buffer) {
	defer b.enter()()
	c := b.call("BatchNorm")
	xd, gd, bd := c.in(x), c.in(gamma), c.in(beta)
	rm, rv, sm, si := c.out(runMean), c.out(runVar), c.out(saveMean), c.out(saveInvStd)
	yd := c.out(y)
	checkBN("BatchNorm", a, xd, gd, bd, rm, rv, sm, si)
	checkSameLen("BatchNorm", xd, yd)
	if rm == nil || rv == nil || sm == nil || si == nil {
		panic("vk: BatchNorm: running and saved statistics are required")
	}
	if (gd == nil) != (bd == nil) {
		panic("vk: BatchNorm: gamma and beta must both be given or both be nil")
	}
	if a.Training && a.N*a.HW < 2 {
		panic(fmt.Sprintf("vk: BatchNorm: training needs more than one value per channel, got [N C HW] = [%d %d %d]", a.N, a.C, a.HW))
	}
	bufs := []*Buffer{xd, gd, bd, rm, rv, sm, si, yd, nil, nil}
	push := bnPush(a, bufs)
	spec := []uint32{b2u(gd != nil), b2u(a.Training), 0, 0}
	gx, gy := b.grid(a.C)
	b.dispatch(kernel{"batchnorm_stats", 10, spec}, push, gx, gy, 1, bufs...)
	b.dispatch1D(kernel{"batchnorm_apply", 10, spec}, xd.n, push, bufs...)
	c.done()
}

// BatchNormBackward computes dx, dgamma and dbeta of a BatchNorm from its
// saved statistics; gamma, dgamma and dbeta may be nil.
func (b *Backend) BatchNormBackward(a tensor.BatchNormArgs, x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta tensor.Buffer) {
	defer b.enter()()
	c := b.call("BatchNormBackward")
	xd, dyd, gd, sm, si := c.in(x), c.in(dy), c.in(gamma), c.in(saveMean), c.in(saveInvStd)
	dxd, dg, db := c.out(dx), c.out(dgamma), c.out(dbeta)
	checkBN("BatchNormBackward", a, xd, gd, sm, si, dg, db)
	checkSameLen("BatchNormBackward", xd, dyd, dxd)
	if sm == nil || si == nil {
		panic("vk: BatchNormBackward: saved statistics are required")
	}
	scratch := b.allocRaw(2 * max(a.C, 1))
	if b.rec == nil { // a recorded sequence keeps it until the sequence goes
		b.deferred = append(b.deferred, scratch)
	}
	bufs := []*Buffer{xd, gd, dyd, scratch, nil, sm, si, dxd, dg, db}
	push := bnPush(a, bufs)
	spec := []uint32{b2u(gd != nil), b2u(a.Training), b2u(dg != nil), b2u(db != nil)}
	gx, gy := b.grid(a.C)
	b.dispatch(kernel{"batchnorm_bstats", 10, spec}, push, gx, gy, 1, bufs...)
	b.dispatch1D(kernel{"batchnorm_bapply", 10, spec}, xd.n, push, bufs...)
	c.done()
}

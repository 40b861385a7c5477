package tensor

import (
	"fmt"
	"math"

	"github.com/halo-ml/halo/asm"
)

// broadcastStrides returns the element strides of a tensor of shape s read
// as if it had shape to: 0 along axes where s has size 1 and to does not.
// It panics unless s broadcasts to to.
func broadcastStrides(op string, s, to []int) []int {
	if len(s) != len(to) {
		panic(fmt.Sprintf("tensor: cpu %s: shape %s does not have the rank of %s", op, ShapeString(s), ShapeString(to)))
	}
	st := make([]int, len(s))
	acc := 1
	for d := len(s) - 1; d >= 0; d-- {
		switch {
		case s[d] == to[d]:
			st[d] = acc
		case s[d] == 1:
			st[d] = 0
		default:
			panic(fmt.Sprintf("tensor: cpu %s: shape %s does not broadcast to %s", op, ShapeString(s), ShapeString(to)))
		}
		acc *= s[d]
	}
	return st
}

// rowOffsets calls f for each row (all axes but the last) of shape, with the
// row's offsets under the given stride sets, in row-major order.
func rowOffsets(shape []int, strides [][]int, f func(offs []int)) {
	rank := len(shape)
	offs := make([]int, len(strides))
	if rank == 0 {
		f(offs)
		return
	}
	idx := make([]int, rank-1)
	for _, d := range shape {
		if d == 0 {
			return
		}
	}
	for {
		f(offs)
		d := rank - 2
		for ; d >= 0; d-- {
			idx[d]++
			for s := range strides {
				offs[s] += strides[s][d]
			}
			if idx[d] < shape[d] {
				break
			}
			for s := range strides {
				offs[s] -= strides[s][d] * shape[d]
			}
			idx[d] = 0
		}
		if d < 0 {
			return
		}
	}
}

func (cpuBackend) Binary(op BinaryOp, x Buffer, xShape []int, y Buffer, yShape []int, z Buffer, zShape []int) {
	xs, ys, zs := host("Binary", x), host("Binary", y), host("Binary", z)
	name := "Binary " + op.String()
	if n := numel(zShape); n != len(zs) || numel(xShape) != len(xs) || numel(yShape) != len(ys) {
		panic(fmt.Sprintf("tensor: cpu %s: buffers of %d, %d, %d values for shapes %s, %s, %s",
			name, len(xs), len(ys), len(zs), ShapeString(xShape), ShapeString(yShape), ShapeString(zShape)))
	}
	sx, sy := broadcastStrides(name, xShape, zShape), broadcastStrides(name, yShape, zShape)
	if len(zShape) == 0 {
		binaryRow(op, xs, 1, ys, 1, zs)
		return
	}
	last := len(zShape) - 1
	l := zShape[last]
	ix, iy := sx[last], sy[last]
	zStrides := make([]int, len(zShape))
	acc := 1
	for d := last; d >= 0; d-- {
		zStrides[d] = acc
		acc *= zShape[d]
	}
	rowOffsets(zShape, [][]int{sx, sy, zStrides}, func(o []int) {
		binaryRow(op, xs[o[0]:], ix, ys[o[1]:], iy, zs[o[2]:o[2]+l])
	})
}

// binaryRow computes z[j] = op(x[j*ix], y[j*iy]) for j < len(z); ix, iy are
// 0 (broadcast) or 1.
func binaryRow(op BinaryOp, x []float32, ix int, y []float32, iy int, z []float32) {
	n := len(z)
	if ix == 1 && iy == 1 {
		switch op {
		case BinaryAdd:
			asm.Add(z, x[:n], y[:n])
			return
		case BinaryMul:
			asm.Mul(z, x[:n], y[:n])
			return
		}
	}
	for j := range z {
		a, b := x[j*ix], y[j*iy]
		var v float32
		switch op {
		case BinaryAdd:
			v = a + b
		case BinarySub:
			v = a - b
		case BinaryMul:
			v = a * b
		case BinaryDiv:
			v = a / b
		case BinaryMax:
			switch {
			case a != a || a > b:
				v = a
			default:
				v = b
			}
		default:
			panic("tensor: cpu Binary: unknown op " + op.String())
		}
		z[j] = v
	}
}

func (cpuBackend) Reduce(op ReduceOp, x Buffer, xShape []int, y Buffer, yShape []int) {
	xs, ys := host("Reduce", x), host("Reduce", y)
	name := "Reduce " + op.String()
	if numel(xShape) != len(xs) || numel(yShape) != len(ys) {
		panic(fmt.Sprintf("tensor: cpu %s: buffers of %d and %d values for shapes %s and %s",
			name, len(xs), len(ys), ShapeString(xShape), ShapeString(yShape)))
	}
	// y broadcasts to x exactly when it is x with some axes reduced to 1.
	sy := broadcastStrides(name, yShape, xShape)
	init := float32(0)
	if op == ReduceMax {
		init = float32(math.Inf(-1))
	}
	for i := range ys {
		ys[i] = init
	}
	if len(xs) == 0 {
		return
	}
	if len(xShape) == 0 {
		ys[0] = xs[0]
		return
	}
	last := len(xShape) - 1
	l := xShape[last]
	xStrides := make([]int, len(xShape))
	acc := 1
	for d := last; d >= 0; d-- {
		xStrides[d] = acc
		acc *= xShape[d]
	}
	rowOffsets(xShape, [][]int{xStrides, sy}, func(o []int) {
		row := xs[o[0] : o[0]+l]
		if sy[last] == 0 { // the row folds into one value
			switch op {
			case ReduceSum:
				ys[o[1]] += asm.Sum(row)
			case ReduceMax:
				ys[o[1]] = maxPropagate(ys[o[1]], maxRow(row))
			}
			return
		}
		dst := ys[o[1] : o[1]+l]
		switch op {
		case ReduceSum:
			asm.Add(dst, dst, row)
		case ReduceMax:
			for j, v := range row {
				dst[j] = maxPropagate(dst[j], v)
			}
		}
	})
}

func maxPropagate(a, b float32) float32 {
	if a != a || a > b {
		return a
	}
	return b
}

func maxRow(row []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range row {
		m = maxPropagate(m, v)
	}
	return m
}

// bnParams returns gamma and beta as slices, 1 and 0 when the buffers are nil
// (a BatchNorm without affine parameters).
func bnParams(c int, gamma, beta Buffer) (g, b []float32) {
	g, b = host("BatchNorm", gamma), host("BatchNorm", beta)
	if g == nil {
		g = make([]float32, c)
		for i := range g {
			g[i] = 1
		}
	}
	if b == nil {
		b = make([]float32, c)
	}
	return g, b
}

func checkBN(op string, a BatchNormArgs, full []float32, perChannel ...[]float32) {
	if a.N < 0 || a.C < 0 || a.HW < 0 || len(full) != a.N*a.C*a.HW {
		panic(fmt.Sprintf("tensor: cpu %s: %d values for [N C HW] = [%d %d %d]", op, len(full), a.N, a.C, a.HW))
	}
	for _, p := range perChannel {
		if len(p) != a.C {
			panic(fmt.Sprintf("tensor: cpu %s: per-channel buffer of %d values for C = %d", op, len(p), a.C))
		}
	}
}

func (cpuBackend) BatchNorm(a BatchNormArgs, x, gamma, beta, runMean, runVar, saveMean, saveInvStd, y Buffer) {
	xs, ys := host("BatchNorm", x), host("BatchNorm", y)
	rm, rv := host("BatchNorm", runMean), host("BatchNorm", runVar)
	sm, si := host("BatchNorm", saveMean), host("BatchNorm", saveInvStd)
	g, b := bnParams(a.C, gamma, beta)
	checkBN("BatchNorm", a, xs, g, b, rm, rv, sm, si)
	checkSameLen("BatchNorm", xs, ys)
	m := a.N * a.HW
	if a.Training && m < 2 {
		panic(fmt.Sprintf("tensor: cpu BatchNorm: training needs more than one value per channel, got [N C HW] = [%d %d %d]", a.N, a.C, a.HW))
	}
	parallelFor(a.C, runtimeProcs(), func(lo, hi int) {
		for c := lo; c < hi; c++ {
			var mean, invStd float64
			if a.Training {
				var s float64
				for n := range a.N {
					s += sum64(xs[(n*a.C+c)*a.HW:][:a.HW])
				}
				mean = s / float64(m)
				var ss float64
				for n := range a.N {
					ss += sumSquaredDev64(xs[(n*a.C+c)*a.HW:][:a.HW], mean)
				}
				variance := ss / float64(m)
				invStd = 1 / math.Sqrt(variance+float64(a.Eps))
				mom := float64(a.Momentum)
				rm[c] = float32((1-mom)*float64(rm[c]) + mom*mean)
				rv[c] = float32((1-mom)*float64(rv[c]) + mom*ss/float64(m-1))
			} else {
				mean = float64(rm[c])
				invStd = 1 / math.Sqrt(float64(rv[c])+float64(a.Eps))
			}
			sm[c], si[c] = float32(mean), float32(invStd)
			// Element by element in float64 too: a channel whose spread is
			// tiny against its mean loses its digits in float32 x - mean.
			scale := float64(g[c]) * invStd
			shift := float64(b[c]) - mean*scale
			for n := range a.N {
				off := (n*a.C + c) * a.HW
				dst := ys[off : off+a.HW]
				for i, v := range xs[off : off+a.HW] {
					dst[i] = float32(float64(v)*scale + shift)
				}
			}
		}
	})
}

// sum64 is the sum of s in float64, over four independent accumulators so
// the additions overlap rather than wait on each other.
func sum64(s []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(s); i += 4 {
		v := s[i : i+4 : i+4]
		s0 += float64(v[0])
		s1 += float64(v[1])
		s2 += float64(v[2])
		s3 += float64(v[3])
	}
	for ; i < len(s); i++ {
		s0 += float64(s[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// sumSquaredDev64 is the sum of (s[i]-mean)^2 in float64, as sum64.
func sumSquaredDev64(s []float32, mean float64) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(s); i += 4 {
		v := s[i : i+4 : i+4]
		d0, d1, d2, d3 := float64(v[0])-mean, float64(v[1])-mean, float64(v[2])-mean, float64(v[3])-mean
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(s); i++ {
		d := float64(s[i]) - mean
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// sumsDyXhat returns the sums of dy and of dy*(x-mean)*invStd in float64,
// as sum64.
func sumsDyXhat(x, dy []float32, mean, invStd float64) (sdy, sdyx float64) {
	dy = dy[:len(x)]
	var a0, a1, b0, b1 float64
	i := 0
	for ; i+2 <= len(x); i += 2 {
		d0, d1 := float64(dy[i]), float64(dy[i+1])
		a0 += d0
		a1 += d1
		b0 += d0 * (float64(x[i]) - mean)
		b1 += d1 * (float64(x[i+1]) - mean)
	}
	for ; i < len(x); i++ {
		d := float64(dy[i])
		a0 += d
		b0 += d * (float64(x[i]) - mean)
	}
	return a0 + a1, (b0 + b1) * invStd
}

func (cpuBackend) BatchNormBackward(a BatchNormArgs, x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta Buffer) {
	xs, dys, dxs := host("BatchNormBackward", x), host("BatchNormBackward", dy), host("BatchNormBackward", dx)
	sm, si := host("BatchNormBackward", saveMean), host("BatchNormBackward", saveInvStd)
	dg, db := host("BatchNormBackward", dgamma), host("BatchNormBackward", dbeta)
	g, _ := bnParams(a.C, gamma, nil)
	checkBN("BatchNormBackward", a, xs, g, sm, si)
	checkSameLen("BatchNormBackward", xs, dys, dxs)
	m := float64(a.N * a.HW)
	parallelFor(a.C, runtimeProcs(), func(lo, hi int) {
		for c := lo; c < hi; c++ {
			mean, invStd := float64(sm[c]), float64(si[c])
			var sdy, sdyx float64
			for n := range a.N {
				off := (n*a.C + c) * a.HW
				y, yx := sumsDyXhat(xs[off:off+a.HW], dys[off:off+a.HW], mean, invStd)
				sdy += y
				sdyx += yx
			}
			if dg != nil {
				dg[c] = float32(sdyx)
			}
			if db != nil {
				db[c] = float32(sdy)
			}
			// dx = k*(dy - sdy/m - xhat*sdyx/m) with xhat = (x - mean)*invStd
			// (k*dy alone when evaluating), in float64 as the forward pass.
			k := float64(g[c]) * invStd
			mdy, mdyx := sdy/m, sdyx/m*invStd
			for n := range a.N {
				off := (n*a.C + c) * a.HW
				dst, d := dxs[off:off+a.HW], dys[off:off+a.HW]
				if !a.Training {
					for i, v := range d {
						dst[i] = float32(k * float64(v))
					}
					continue
				}
				for i, v := range xs[off : off+a.HW] {
					dst[i] = float32(k * (float64(d[i]) - mdy - (float64(v)-mean)*mdyx))
				}
			}
		}
	})
}

func (cpuBackend) Sync() error { return nil }

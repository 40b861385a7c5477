package tensor

import "fmt"

// mapOp applies the backend's Map kernel; its VJP is MapBackward.
func (tp *Tape) mapOp(op MapOp, alpha float32, x *Tensor) *Tensor {
	be := tp.Backend()
	y := tp.newT(x.shape...)
	be.Map(op, alpha, tp.b(x), tp.b(y))
	return tp.done(op.String(), y, func(g *Tensor) {
		dx := tp.buf(x.Len())
		be.MapBackward(op, alpha, tp.b(x), tp.b(y), tp.b(g), dx)
		tp.accumOwned(x, dx)
	}, x)
}

// Relu returns max(x, 0).
func (tp *Tape) Relu(x *Tensor) *Tensor { return tp.mapOp(MapRelu, 0, x) }

// LeakyRelu returns x where x > 0 and slope*x elsewhere.
func (tp *Tape) LeakyRelu(x *Tensor, slope float32) *Tensor {
	return tp.mapOp(MapLeakyRelu, slope, x)
}

// Tanh returns tanh(x).
func (tp *Tape) Tanh(x *Tensor) *Tensor { return tp.mapOp(MapTanh, 0, x) }

// Sigmoid returns 1/(1+exp(-x)).
func (tp *Tape) Sigmoid(x *Tensor) *Tensor { return tp.mapOp(MapSigmoid, 0, x) }

// Exp returns exp(x).
func (tp *Tape) Exp(x *Tensor) *Tensor { return tp.mapOp(MapExp, 0, x) }

// Log returns the natural logarithm of x.
func (tp *Tape) Log(x *Tensor) *Tensor { return tp.mapOp(MapLog, 0, x) }

// Sqrt returns the square root of x.
func (tp *Tape) Sqrt(x *Tensor) *Tensor { return tp.mapOp(MapSqrt, 0, x) }

// Abs returns |x| (gradient 0 at 0, as PyTorch).
func (tp *Tape) Abs(x *Tensor) *Tensor { return tp.mapOp(MapAbs, 0, x) }

// Square returns x*x.
func (tp *Tape) Square(x *Tensor) *Tensor { return tp.mapOp(MapSquare, 0, x) }

// Pow returns x^p elementwise.
func (tp *Tape) Pow(x *Tensor, p float32) *Tensor {
	if p == 2 {
		return tp.mapOp(MapSquare, 0, x)
	}
	return tp.mapOp(MapPow, p, x)
}

// Neg returns -x.
func (tp *Tape) Neg(x *Tensor) *Tensor { return tp.mapOp(MapNeg, 0, x) }

// Scale returns a*x.
func (tp *Tape) Scale(x *Tensor, a float32) *Tensor { return tp.mapOp(MapScale, a, x) }

// AddScalar returns x + a.
func (tp *Tape) AddScalar(x *Tensor, a float32) *Tensor { return tp.mapOp(MapAddScalar, a, x) }

// broadcastShapes returns the shape of a NumPy broadcast of a and b, and
// both padded on the left with ones to its rank. It panics, naming both
// shapes, when they do not broadcast.
func broadcastShapes(op string, a, b []int) (out, pa, pb []int) {
	r := max(len(a), len(b))
	pad := func(s []int) []int {
		p := make([]int, r)
		for i := range p {
			p[i] = 1
		}
		copy(p[r-len(s):], s)
		return p
	}
	pa, pb = pad(a), pad(b)
	out = make([]int, r)
	for i := range out {
		switch {
		case pa[i] == pb[i]:
			out[i] = pa[i]
		case pa[i] == 1:
			out[i] = pb[i]
		case pb[i] == 1:
			out[i] = pa[i]
		default:
			panic(fmt.Sprintf("tensor: %s: shapes %s and %s do not broadcast", op, ShapeString(a), ShapeString(b)))
		}
	}
	return out, pa, pb
}

// sumTo reduces g (of shape full) to shape to (full's rank, size-1 axes
// where it was broadcast) into a fresh slice; it returns g itself when
// nothing is reduced.
func (tp *Tape) sumTo(g Buffer, full, to []int) Buffer {
	if equalShape(full, to) {
		return g
	}
	out := tp.buf(numel(to))
	tp.Backend().Reduce(ReduceSum, g, full, out, to)
	return out
}

// binary applies a broadcasting Binary kernel and records its VJP.
func (tp *Tape) binary(op BinaryOp, x, y *Tensor) *Tensor {
	be := tp.Backend()
	zs, xs, ys := broadcastShapes(op.String(), x.shape, y.shape)
	z := tp.newT(zs...)
	be.Binary(op, tp.b(x), xs, tp.b(y), ys, tp.b(z), zs)
	return tp.done(op.String(), z, func(g *Tensor) {
		n := g.Len()
		gb := tp.b(g)
		switch op {
		case BinaryAdd:
			tp.accum(x, tp.sumTo(gb, zs, xs))
			tp.accum(y, tp.sumTo(gb, zs, ys))
		case BinarySub:
			tp.accum(x, tp.sumTo(gb, zs, xs))
			if y.needsGrad() {
				d := tp.sumTo(gb, zs, ys)
				nd := tp.buf(d.Len())
				be.Map(MapNeg, 0, d, nd)
				tp.accumOwned(y, nd)
			}
		case BinaryMul:
			if x.needsGrad() {
				t := tp.buf(n)
				be.Binary(BinaryMul, gb, zs, tp.b(y), ys, t, zs)
				tp.accumSum(x, t, zs, xs)
			}
			if y.needsGrad() {
				t := tp.buf(n)
				be.Binary(BinaryMul, gb, zs, tp.b(x), xs, t, zs)
				tp.accumSum(y, t, zs, ys)
			}
		case BinaryDiv:
			if x.needsGrad() {
				t := tp.buf(n)
				be.Binary(BinaryDiv, gb, zs, tp.b(y), ys, t, zs)
				tp.accumSum(x, t, zs, xs)
			}
			if y.needsGrad() { // d(x/y)/dy = -z/y
				t := tp.buf(n)
				be.Binary(BinaryMul, gb, zs, tp.b(z), zs, t, zs)
				be.Binary(BinaryDiv, t, zs, tp.b(y), ys, t, zs)
				d := tp.sumTo(t, zs, ys)
				be.Map(MapNeg, 0, d, d)
				tp.accum(y, d)
			}
		default:
			panic("tensor: no gradient for binary op " + op.String())
		}
	}, x, y)
}

// Add returns x + y with NumPy broadcasting.
func (tp *Tape) Add(x, y *Tensor) *Tensor { return tp.binary(BinaryAdd, x, y) }

// Sub returns x - y with NumPy broadcasting.
func (tp *Tape) Sub(x, y *Tensor) *Tensor { return tp.binary(BinarySub, x, y) }

// Mul returns x * y elementwise with NumPy broadcasting.
func (tp *Tape) Mul(x, y *Tensor) *Tensor { return tp.binary(BinaryMul, x, y) }

// Div returns x / y elementwise with NumPy broadcasting.
func (tp *Tape) Div(x, y *Tensor) *Tensor { return tp.binary(BinaryDiv, x, y) }

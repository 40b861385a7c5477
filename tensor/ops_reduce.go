package tensor

import "fmt"

// reducedShape returns x's shape with the given axes set to 1 (all axes when
// none are given) and the shape without them.
func reducedShape(op string, shape []int, axes []int) (keep, drop []int) {
	keep = cloneShape(shape)
	if len(axes) == 0 {
		for i := range keep {
			keep[i] = 1
		}
		return keep, []int{}
	}
	gone := make([]bool, len(shape))
	for _, a := range axes {
		if a < 0 {
			a += len(shape)
		}
		if a < 0 || a >= len(shape) || gone[a] {
			panic(fmt.Sprintf("tensor: %s: bad or repeated axis in %v for shape %s", op, axes, ShapeString(shape)))
		}
		gone[a] = true
		keep[a] = 1
	}
	for i, d := range shape {
		if !gone[i] {
			drop = append(drop, d)
		}
	}
	if drop == nil {
		drop = []int{}
	}
	return keep, drop
}

// broadcastTo returns g (of shape from, x's rank) repeated along its size-1
// axes to shape to, through the Binary kernel with a zero operand.
func (tp *Tape) broadcastTo(g Buffer, from, to []int) Buffer {
	be := tp.Backend()
	out := tp.buf(numel(to))
	if equalShape(from, to) {
		be.Map(MapCopy, 0, g, out)
		return out
	}
	ones := make([]int, len(to))
	for i := range ones {
		ones[i] = 1
	}
	be.Binary(BinaryAdd, g, from, tp.zero(), ones, out, to)
	return out
}

// Sum returns the sum of x over the given axes (all axes when none are
// given; negative axes count from the end). keepDim keeps the reduced axes
// with size 1.
func (tp *Tape) Sum(x *Tensor, keepDim bool, axes ...int) *Tensor {
	be := tp.Backend()
	keep, drop := reducedShape("Sum", x.shape, axes)
	y := tp.newT(keep...)
	be.Reduce(ReduceSum, tp.b(x), x.shape, tp.b(y), keep)
	if !keepDim {
		y.shape = drop
	}
	return tp.done("sum", y, func(g *Tensor) {
		tp.accumOwned(x, tp.broadcastTo(tp.b(g), keep, x.shape))
	}, x)
}

// Mean returns the mean of x over the given axes (all when none are given).
func (tp *Tape) Mean(x *Tensor, keepDim bool, axes ...int) *Tensor {
	s := tp.Sum(x, keepDim, axes...)
	n := x.Len() / max(s.Len(), 1)
	return tp.Scale(s, 1/float32(n))
}

// SumSquares returns the sum of x*x over the given axes (all when none).
func (tp *Tape) SumSquares(x *Tensor, keepDim bool, axes ...int) *Tensor {
	return tp.Sum(tp.Square(x), keepDim, axes...)
}

package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Reduction says how a loss combines its elementwise terms.
type Reduction int

// The reductions of a loss, as PyTorch's reduction='sum' and 'mean'.
const (
	ReduceMeanLoss Reduction = iota // the mean of the terms
	ReduceSumLoss                   // the sum of the terms
)

func (tp *Tape) reduceLoss(t *Tensor, r Reduction) *Tensor {
	if r == ReduceSumLoss {
		return tp.Sum(t, false)
	}
	return tp.Mean(t, false)
}

// checkSameShape panics, naming both shapes, unless x and y (called xName
// and yName in the message) have the same shape.
func checkSameShape(op, xName, yName string, x, y *Tensor) {
	if !equalShape(x.shape, y.shape) {
		panic(fmt.Sprintf("tensor: %s: %s %s and %s %s differ", op, xName, ShapeString(x.shape), yName, ShapeString(y.shape)))
	}
}

// MSELoss returns the sum or mean of (x - target)^2, a scalar.
func (tp *Tape) MSELoss(x, target *Tensor, r Reduction) *Tensor {
	checkSameShape("MSELoss", "input", "target", x, target)
	return tp.reduceLoss(tp.Square(tp.Sub(x, target)), r)
}

// L1Loss returns the sum or mean of |x - target|, a scalar.
func (tp *Tape) L1Loss(x, target *Tensor, r Reduction) *Tensor {
	checkSameShape("L1Loss", "input", "target", x, target)
	return tp.reduceLoss(tp.Abs(tp.Sub(x, target)), r)
}

// bceOp is binary cross-entropy -(t log x + (1-t) log(1-x)) per element,
// with each log clamped at -100 and the gradient's denominator at 1e-12, as
// PyTorch's BCELoss.
var bceOp = CustomOp{
	Name: "bce",
	Forward: func(in [][]float32, out []float32) {
		x, t := in[0], in[1]
		for i := range out {
			lx := max(math.Log(float64(x[i])), -100)
			l1 := max(math.Log(1-float64(x[i])), -100)
			out[i] = float32(-(float64(t[i])*lx + (1-float64(t[i]))*l1))
		}
	},
	Backward: func(in [][]float32, _, dout []float32, din [][]float32) {
		x, t := in[0], in[1]
		if dx := din[0]; dx != nil {
			for i := range dx {
				xv := float64(x[i])
				dx[i] += float32(float64(dout[i]) * (xv - float64(t[i])) / max((1-xv)*xv, 1e-12))
			}
		}
		if dt := din[1]; dt != nil {
			for i := range dt {
				xv := float64(x[i])
				dt[i] += float32(float64(dout[i]) * (max(math.Log(1-xv), -100) - max(math.Log(xv), -100)))
			}
		}
	},
}

// BCELoss returns the sum or mean of the binary cross-entropy of
// probabilities x against targets in [0, 1], a scalar.
func (tp *Tape) BCELoss(x, target *Tensor, r Reduction) *Tensor {
	checkSameShape("BCELoss", "input", "target", x, target)
	return tp.reduceLoss(tp.Custom(bceOp, x.shape, x, target), r)
}

// KLNormal returns the KL divergence of the diagonal Gaussians N(mu,
// exp(logVar)) to N(0, I), summed over all elements:
// -1/2 sum(1 + logVar - mu^2 - exp(logVar)).
func (tp *Tape) KLNormal(mu, logVar *Tensor) *Tensor {
	checkSameShape("KLNormal", "mean", "log-variance", mu, logVar)
	t := tp.Sub(tp.Sub(tp.AddScalar(logVar, 1), tp.Square(mu)), tp.Exp(logVar))
	return tp.Scale(tp.Sum(t, false), -0.5)
}

// Reparameterize returns mu + eps*exp(logVar/2) with eps drawn from N(0, 1)
// by rng, one value per element in row-major order.
func (tp *Tape) Reparameterize(mu, logVar *Tensor, rng *rand.Rand) *Tensor {
	checkSameShape("Reparameterize", "mean", "log-variance", mu, logVar)
	eps := New(mu.shape...) // drawn on the host; a device tape uploads it
	if tp.onHost() {
		eps = tp.newT(mu.shape...)
	}
	for i := range eps.data {
		eps.data[i] = float32(rng.NormFloat64())
	}
	return tp.Add(mu, tp.Mul(tp.Exp(tp.Scale(logVar, 0.5)), eps))
}

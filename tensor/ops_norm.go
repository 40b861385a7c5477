package tensor

import "fmt"

// BatchNorm normalises x [N, C], [N, C, L] or [N, C, H, W] per channel as
// PyTorch's BatchNorm1d/2d, with affine parameters gamma and beta [C] (nil
// for none). In training it uses the batch statistics and updates runMean
// and runVar [C] in place (momentum as PyTorch's, unbiased variance); in
// evaluation it uses them.
func (tp *Tape) BatchNorm(x, gamma, beta, runMean, runVar *Tensor, training bool, momentum, eps float32) *Tensor {
	args := bnArgs("BatchNorm", x, gamma, beta, runMean, runVar, training, momentum, eps)
	c := args.C
	be := tp.Backend()
	y := tp.newT(x.shape...)
	saveMean, saveInv := tp.newT(c), tp.newT(c)

	be.BatchNorm(args, tp.b(x), tp.optBuffer(gamma), tp.optBuffer(beta), tp.w(runMean), tp.w(runVar), tp.b(saveMean), tp.b(saveInv), tp.b(y))
	ins := []*Tensor{x}
	if gamma != nil {
		ins = append(ins, gamma)
	}
	if beta != nil {
		ins = append(ins, beta)
	}
	return tp.done("batch_norm", y, func(g *Tensor) {
		dx := tp.buf(x.Len())
		dg, db := tp.buf(c), tp.buf(c)
		be.BatchNormBackward(args, tp.b(x), tp.b(g), tp.optBuffer(gamma), tp.b(saveMean), tp.b(saveInv), dx, dg, db)
		tp.accumOwned(x, dx)
		if gamma != nil {
			tp.accumOwned(gamma, dg)
		}
		if beta != nil {
			tp.accumOwned(beta, db)
		}
	}, ins...)
}

// BatchNormAct is act(BatchNorm(x, ...)) as one op, for act MapRelu,
// MapLeakyRelu (alpha > 0), MapTanh, MapSigmoid or MapCopy. It keeps only
// its output: these activations' derivatives follow from the output alone
// (the sign of a ReLU's output is its input's), so the normalised
// pre-activation is never stored, which saves a tensor per layer.
func (tp *Tape) BatchNormAct(x, gamma, beta, runMean, runVar *Tensor, training bool, momentum, eps float32, act MapOp, alpha float32) *Tensor {
	switch {
	case act == MapRelu || act == MapTanh || act == MapSigmoid || act == MapCopy:
	case act == MapLeakyRelu && alpha > 0:
	default:
		panic(fmt.Sprintf("tensor: BatchNormAct: activation %v with alpha %g cannot be fused", act, alpha))
	}
	args := bnArgs("BatchNormAct", x, gamma, beta, runMean, runVar, training, momentum, eps)
	c := args.C
	be := tp.Backend()
	y := tp.newT(x.shape...)
	saveMean, saveInv := tp.newT(c), tp.newT(c)

	be.BatchNorm(args, tp.b(x), tp.optBuffer(gamma), tp.optBuffer(beta), tp.w(runMean), tp.w(runVar), tp.b(saveMean), tp.b(saveInv), tp.b(y))
	be.Map(act, alpha, tp.b(y), tp.b(y))
	ins := []*Tensor{x}
	if gamma != nil {
		ins = append(ins, gamma)
	}
	if beta != nil {
		ins = append(ins, beta)
	}
	return tp.done("batch_norm_"+act.String(), y, func(g *Tensor) {
		dz := tp.buf(x.Len())
		// y stands in for the activation's input: same sign, and the
		// smooth activations' derivatives read y only.
		be.MapBackward(act, alpha, tp.b(y), tp.b(y), tp.b(g), dz)
		dx := tp.buf(x.Len())
		dg, db := tp.buf(c), tp.buf(c)
		be.BatchNormBackward(args, tp.b(x), dz, tp.optBuffer(gamma), tp.b(saveMean), tp.b(saveInv), dx, dg, db)
		tp.put(dz)
		tp.accumOwned(x, dx)
		if gamma != nil {
			tp.accumOwned(gamma, dg)
		}
		if beta != nil {
			tp.accumOwned(beta, db)
		}
	}, ins...)
}

// L2Normalize returns x / (||x|| + eps), the norm taken along axis (kept for
// broadcasting), as the HALO reference code normalises each subspace.
func (tp *Tape) L2Normalize(x *Tensor, axis int, eps float32) *Tensor {
	norm := tp.AddScalar(tp.Sqrt(tp.Sum(tp.Square(x), true, axis)), eps)
	return tp.Div(x, norm)
}

// bnArgs checks the shapes of a batch norm's operands, panicking with both
// shapes named, and returns its kernel arguments.
func bnArgs(op string, x, gamma, beta, runMean, runVar *Tensor, training bool, momentum, eps float32) BatchNormArgs {
	if len(x.shape) < 2 || len(x.shape) > 4 {
		panic(fmt.Sprintf("tensor: %s: input %s: want [N C], [N C L] or [N C H W]", op, ShapeString(x.shape)))
	}
	c := x.shape[1]
	for _, p := range []*Tensor{gamma, beta, runMean, runVar} {
		if p != nil && (len(p.shape) != 1 || p.shape[0] != c) {
			panic(fmt.Sprintf("tensor: %s: input %s and per-channel tensor %s: want [%d]", op, ShapeString(x.shape), ShapeString(p.shape), c))
		}
	}
	if runMean == nil || runVar == nil {
		panic("tensor: " + op + ": running mean and variance are required")
	}
	return BatchNormArgs{N: x.shape[0], C: c, HW: x.Len() / max(x.shape[0]*c, 1), Eps: eps, Training: training, Momentum: momentum}
}

// optBuffer is t's buffer, or nil for an absent optional parameter.
func (tp *Tape) optBuffer(t *Tensor) Buffer {
	if t == nil {
		return nil
	}
	return tp.b(t)
}

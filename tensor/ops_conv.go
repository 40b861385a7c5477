package tensor

// convOp records a convolution of geometry g computed by ConvForward; its
// VJP is ConvBackward, which adds into the gradients directly.
func (tp *Tape) convOp(name string, g ConvGeom, x, w, bias *Tensor, shape []int) *Tensor {
	checkBias(name, g, w, bias)
	ins := []*Tensor{x, w}
	if bias != nil {
		ins = append(ins, bias)
	}
	if !tp.onHost() {
		return tp.convDev(name, g, ins, shape)
	}
	for _, t := range ins {
		t.pull()
	}
	y := tp.newT(shape...)
	ConvForward(g, y.data, x.data, w.data, biasData(bias), nil)
	return tp.done(name, y, func(gy *Tensor) {
		var dx, dw, db []float32
		if x.needsGrad() {
			dx = hostOf(tp.gradBuf(x))
		}
		if w.needsGrad() {
			dw = hostOf(tp.gradBuf(w))
		}
		if bias != nil && bias.needsGrad() {
			db = hostOf(tp.gradBuf(bias))
		}
		ConvBackward(g, dx, dw, db, gy.data, x.data, w.data, nil)
	}, ins...)
}

// Conv2d is the recorded form of the package function Conv2d: x
// [N, C, H, W], w [Cout, C, KH, KW], bias [Cout] or nil.
func (tp *Tape) Conv2d(x, w, bias *Tensor, p ConvParams) *Tensor {
	g := Conv2dGeom(x.shape, w.shape, p)
	return tp.convOp("conv2d", g, x, w, bias, g.OutShape())
}

// ConvTranspose2d is the recorded form of the package function
// ConvTranspose2d: x [N, Cin, H, W], w [Cin, Cout, KH, KW], bias [Cout] or
// nil, with PyTorch's output_padding in p.
func (tp *Tape) ConvTranspose2d(x, w, bias *Tensor, p ConvParams) *Tensor {
	g := ConvTranspose2dGeom(x.shape, w.shape, p)
	return tp.convOp("conv_transpose2d", g, x, w, bias, g.OutShape())
}

// Conv1d is the recorded form of the package function Conv1d: x [N, C, L],
// w [Cout, C, K], bias [Cout] or nil. A causal p (see Conv1dParams) gives
// the output of a padded PyTorch conv1d with its trailing "chomp" removed.
func (tp *Tape) Conv1d(x, w, bias *Tensor, p Conv1dParams) *Tensor {
	g := Conv1dGeom(x.shape, w.shape, p)
	return tp.convOp("conv1d", g, x, w, bias, []int{g.N, g.OutC, g.OutW()})
}

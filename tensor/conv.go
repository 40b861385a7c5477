package tensor

import "fmt"

// ConvGeom is the complete geometry of a Conv2d, ConvTranspose2d or Conv1d
// layer over a batch. N, C, H, W describe the input and OutC the output
// channels; the output height and width follow from the rest (OutH, OutW).
// Stride and dilation are at least 1, paddings at least 0. The zero padding
// is PadH rows above and below and PadW columns left and right, except that
// a Causal geometry pads only on the left (PadW) and not on the right, which
// is a causal temporal convolution when PadW = DilW*(KW-1). OutPadH and
// OutPadW (ConvTranspose2d only, PyTorch's output_padding) add rows and
// columns at the bottom and right of the output; they must be smaller than
// the stride or the dilation of their axis.
//
// Layouts, the same for every convolution function of the package, so that
// weights load from PyTorch state dicts unchanged:
//
//   - activations are NCHW: [N, C, H, W] row-major (Conv1d: [N, C, L], seen
//     as images of one row);
//   - Conv2d weights are [Cout, Cin, KH, KW] (Conv1d: [Cout, Cin, K]);
//   - ConvTranspose2d weights are [Cin, Cout, KH, KW];
//   - biases are [Cout].
//
// Both kinds of layer go through one column matrix. The "image" of a layer
// is the activation the kernel slides over: the input of a Conv2d, the
// output of a ConvTranspose2d (ImageShape). The "column side" is the other
// activation: the output of a Conv2d, the input of a ConvTranspose2d, of
// height CH and width CW. The column matrix of a batch of images is
// ColRows() x ColCols(), row-major, with
//
//	row    r = (c*KH + kh)*KW + kw       c an image channel, (kh, kw) a kernel tap
//	column j = (n*CH + oh)*CW + ow       n the image, (oh, ow) a column-side position
//
// and holds the value of channel c of image n at row oh*StrideH - PadH +
// kh*DilH, column ow*StrideW - PadW + kw*DilW, or zero where that falls in
// the padding. As a matrix the weight is [column-side channels, ColRows()]
// in both cases, so a Conv2d is y = Wm · im2col(x) and a ConvTranspose2d
// is y = col2im(Wmᵀ · x); their gradients are the same products swapped.
type ConvGeom struct {
	N, C, H, W       int  // input batch, channels, height, width
	OutC             int  // output channels
	KH, KW           int  // kernel height and width
	StrideH, StrideW int  // stride between kernel applications
	PadH, PadW       int  // zero padding of the convolved image
	DilH, DilW       int  // dilation: distance between kernel taps
	OutPadH, OutPadW int  // extra output rows and columns of a transposed convolution
	Transposed       bool // ConvTranspose2d rather than Conv2d
	Causal           bool // no padding on the right of the W axis
}

// ConvParams are the hyper-parameters of a Conv2d or ConvTranspose2d as in
// PyTorch, each as (H, W). A zero Stride or Dilation component means 1.
// OutputPadding is for ConvTranspose2d only.
type ConvParams struct {
	Stride, Padding, Dilation, OutputPadding [2]int
}

// Conv1dParams are the hyper-parameters of a Conv1d. A zero Stride or
// Dilation means 1. Causal pads Padding zeros on the left only; with
// Padding = Dilation*(K-1) and stride 1 the output has the input's length
// and equals PyTorch's conv1d(padding=Padding) with its last Padding outputs
// dropped (the "chomp" of a temporal convolution block).
type Conv1dParams struct {
	Stride, Padding, Dilation int
	Causal                    bool
}

// padWEnd is the zero padding on the right of the W axis.
func (g ConvGeom) padWEnd() int {
	if g.Causal {
		return 0
	}
	return g.PadW
}

// convOutLen is the output length of a convolution along one axis; it is
// below 1 when the dilated kernel does not fit the padded input.
func convOutLen(n, k, s, padBefore, padAfter, d int) int {
	span := n + padBefore + padAfter - d*(k-1) - 1
	if span < 0 {
		return 0
	}
	return span/s + 1
}

// convTOutLen is the output length of a transposed convolution along one axis.
func convTOutLen(n, k, s, padBefore, padAfter, d, op int) int {
	return (n-1)*s - padBefore - padAfter + d*(k-1) + op + 1
}

// OutH is the output height.
func (g ConvGeom) OutH() int {
	if g.Transposed {
		return convTOutLen(g.H, g.KH, g.StrideH, g.PadH, g.PadH, g.DilH, g.OutPadH)
	}
	return convOutLen(g.H, g.KH, g.StrideH, g.PadH, g.PadH, g.DilH)
}

// OutW is the output width.
func (g ConvGeom) OutW() int {
	if g.Transposed {
		return convTOutLen(g.W, g.KW, g.StrideW, g.PadW, g.padWEnd(), g.DilW, g.OutPadW)
	}
	return convOutLen(g.W, g.KW, g.StrideW, g.PadW, g.padWEnd(), g.DilW)
}

// InShape is the input shape [N, C, H, W].
func (g ConvGeom) InShape() []int { return []int{g.N, g.C, g.H, g.W} }

// OutShape is the output shape [N, OutC, OutH, OutW].
func (g ConvGeom) OutShape() []int { return []int{g.N, g.OutC, g.OutH(), g.OutW()} }

// WeightShape is PyTorch's weight shape: [OutC, C, KH, KW] for a
// convolution, [C, OutC, KH, KW] for a transposed convolution.
func (g ConvGeom) WeightShape() []int {
	if g.Transposed {
		return []int{g.C, g.OutC, g.KH, g.KW}
	}
	return []int{g.OutC, g.C, g.KH, g.KW}
}

// InLen is the element count of the input.
func (g ConvGeom) InLen() int { return g.N * g.C * g.H * g.W }

// OutLen is the element count of the output.
func (g ConvGeom) OutLen() int { return g.N * g.OutC * g.OutH() * g.OutW() }

// WeightLen is the element count of the weight.
func (g ConvGeom) WeightLen() int { return g.OutC * g.C * g.KH * g.KW }

// ColRows is the number of rows of the column matrix: image channels x KH x KW.
func (g ConvGeom) ColRows() int { return g.imgC() * g.KH * g.KW }

// ColCols is the number of columns of the column matrix of all N images:
// N x column-side height x width.
func (g ConvGeom) ColCols() int { return g.N * g.colH() * g.colW() }

// ImageShape is the shape of the activation the column matrix is built
// from: the input of a convolution, the output of a transposed convolution.
func (g ConvGeom) ImageShape() []int {
	if g.Transposed {
		return g.OutShape()
	}
	return g.InShape()
}

func (g ConvGeom) imgC() int {
	if g.Transposed {
		return g.OutC
	}
	return g.C
}

func (g ConvGeom) imgH() int {
	if g.Transposed {
		return g.OutH()
	}
	return g.H
}

func (g ConvGeom) imgW() int {
	if g.Transposed {
		return g.OutW()
	}
	return g.W
}

// colC, colH and colW describe the column side: the output of a convolution,
// the input of a transposed convolution.
func (g ConvGeom) colC() int {
	if g.Transposed {
		return g.C
	}
	return g.OutC
}

func (g ConvGeom) colH() int {
	if g.Transposed {
		return g.H
	}
	return g.OutH()
}

func (g ConvGeom) colW() int {
	if g.Transposed {
		return g.W
	}
	return g.OutW()
}

func (g ConvGeom) kind() string {
	if g.Transposed {
		return "ConvTranspose2d"
	}
	return "Conv2d"
}

// String describes the geometry in PyTorch's terms.
func (g ConvGeom) String() string {
	s := fmt.Sprintf("%s input %s weight %s output %s stride (%d,%d) padding (%d,%d) dilation (%d,%d)",
		g.kind(), ShapeString(g.InShape()), ShapeString(g.WeightShape()), ShapeString(g.OutShape()),
		g.StrideH, g.StrideW, g.PadH, g.PadW, g.DilH, g.DilW)
	if g.Transposed {
		s += fmt.Sprintf(" output_padding (%d,%d)", g.OutPadH, g.OutPadW)
	}
	if g.Causal {
		s += " causal"
	}
	return s
}

// Validate panics with a message naming the geometry unless it describes a
// layer with a non-empty output: sizes positive (N may be 0), strides and
// dilations at least 1, paddings at least 0, output paddings only on
// transposed convolutions and smaller than the stride or the dilation.
func (g ConvGeom) Validate() {
	bad := func(why string) {
		panic(fmt.Sprintf("tensor: ConvGeom: %s: input %s, weight %s, kernel %dx%d, stride (%d,%d), padding (%d,%d), dilation (%d,%d), output_padding (%d,%d)",
			why, ShapeString(g.InShape()), ShapeString(g.WeightShape()), g.KH, g.KW,
			g.StrideH, g.StrideW, g.PadH, g.PadW, g.DilH, g.DilW, g.OutPadH, g.OutPadW))
	}
	switch {
	case g.N < 0:
		bad("negative batch")
	case g.C < 1 || g.H < 1 || g.W < 1 || g.OutC < 1:
		bad("input channels, height, width and output channels must be at least 1")
	case g.KH < 1 || g.KW < 1:
		bad("kernel size must be at least 1")
	case g.StrideH < 1 || g.StrideW < 1:
		bad("stride must be at least 1")
	case g.DilH < 1 || g.DilW < 1:
		bad("dilation must be at least 1")
	case g.PadH < 0 || g.PadW < 0:
		bad("negative padding")
	case g.OutPadH < 0 || g.OutPadW < 0:
		bad("negative output padding")
	case !g.Transposed && (g.OutPadH != 0 || g.OutPadW != 0):
		bad("output padding on a convolution that is not transposed")
	case g.OutPadH >= max(g.StrideH, g.DilH) || g.OutPadW >= max(g.StrideW, g.DilW):
		bad("output padding must be smaller than the stride or the dilation")
	case g.OutH() < 1 || g.OutW() < 1:
		bad(fmt.Sprintf("output would be %dx%d", g.OutH(), g.OutW()))
	}
}

func defaultOne(v int) int {
	if v == 0 {
		return 1
	}
	return v
}

// convGeomFromShapes builds the geometry of op from an input and a weight
// shape, panicking with both shapes named when they do not fit.
func convGeomFromShapes(op string, x, w []int, p ConvParams, transposed bool) ConvGeom {
	bad := func(why string) {
		panic(fmt.Sprintf("tensor: %s: input %s and weight %s: %s", op, ShapeString(x), ShapeString(w), why))
	}
	if len(x) != 4 {
		bad(fmt.Sprintf("input must have rank 4 (NCHW), has %d", len(x)))
	}
	if len(w) != 4 {
		bad(fmt.Sprintf("weight must have rank 4, has %d", len(w)))
	}
	g := ConvGeom{
		N: x[0], C: x[1], H: x[2], W: x[3],
		KH: w[2], KW: w[3],
		StrideH: defaultOne(p.Stride[0]), StrideW: defaultOne(p.Stride[1]),
		PadH: p.Padding[0], PadW: p.Padding[1],
		DilH: defaultOne(p.Dilation[0]), DilW: defaultOne(p.Dilation[1]),
		OutPadH: p.OutputPadding[0], OutPadW: p.OutputPadding[1],
		Transposed: transposed,
	}
	if transposed {
		if w[0] != x[1] {
			bad(fmt.Sprintf("input channels %d != weight %d", x[1], w[0]))
		}
		g.OutC = w[1]
	} else {
		if w[1] != x[1] {
			bad(fmt.Sprintf("input channels %d != weight %d", x[1], w[1]))
		}
		g.OutC = w[0]
	}
	if !transposed && (p.OutputPadding != [2]int{}) {
		bad("output padding is for transposed convolutions only")
	}
	g.Validate()
	return g
}

// Conv2dGeom is the geometry of a Conv2d of an input of shape x [N, C, H, W]
// with a weight of shape w [Cout, C, KH, KW]. It panics, naming both shapes,
// when they do not fit.
func Conv2dGeom(x, w []int, p ConvParams) ConvGeom {
	return convGeomFromShapes("Conv2d", x, w, p, false)
}

// ConvTranspose2dGeom is the geometry of a ConvTranspose2d of an input of
// shape x [N, Cin, H, W] with a weight of shape w [Cin, Cout, KH, KW]. It
// panics, naming both shapes, when they do not fit.
func ConvTranspose2dGeom(x, w []int, p ConvParams) ConvGeom {
	return convGeomFromShapes("ConvTranspose2d", x, w, p, true)
}

// Conv1dGeom is the geometry of a Conv1d of an input of shape x [N, C, L]
// with a weight of shape w [Cout, C, K], as a Conv2d of 1-row images.
func Conv1dGeom(x, w []int, p Conv1dParams) ConvGeom {
	if len(x) != 3 || len(w) != 3 {
		panic(fmt.Sprintf("tensor: Conv1d: input %s and weight %s: input must be [N C L] and weight [Cout C K]",
			ShapeString(x), ShapeString(w)))
	}
	if w[1] != x[1] {
		panic(fmt.Sprintf("tensor: Conv1d: input %s and weight %s: input channels %d != weight %d",
			ShapeString(x), ShapeString(w), x[1], w[1]))
	}
	g := ConvGeom{
		N: x[0], C: x[1], H: 1, W: x[2], OutC: w[0], KH: 1, KW: w[2],
		StrideH: 1, StrideW: defaultOne(p.Stride), PadW: p.Padding,
		DilH: 1, DilW: defaultOne(p.Dilation), Causal: p.Causal,
	}
	g.Validate()
	return g
}

func checkBias(op string, g ConvGeom, w, bias *Tensor) {
	if bias != nil && (bias.Rank() != 1 || bias.Dim(0) != g.OutC) {
		panic(fmt.Sprintf("tensor: %s: weight %s and bias %s: bias must be [%d]",
			op, ShapeString(w.shape), ShapeString(bias.shape), g.OutC))
	}
}

func checkOutGrad(op string, x, w, dy *Tensor, want []int) {
	if !equalShape(dy.shape, want) {
		panic(fmt.Sprintf("tensor: %s: output gradient %s != output %s of input %s and weight %s",
			op, ShapeString(dy.shape), ShapeString(want), ShapeString(x.shape), ShapeString(w.shape)))
	}
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func biasData(bias *Tensor) []float32 {
	if bias == nil {
		return nil
	}
	return bias.HostData()
}

// convApply runs the forward pass of g and returns the output tensor.
func convApply(g ConvGeom, x, w, bias *Tensor, shape []int) *Tensor {
	y := New(shape...)
	ConvForward(g, y.data, x.HostData(), w.HostData(), biasData(bias), nil)
	return y
}

// convGrads runs the backward pass of g into fresh tensors.
func convGrads(g ConvGeom, x, w, dy *Tensor, inputGrad bool) (dx, dw, db *Tensor) {
	dw = New(w.shape...)
	db = New(g.OutC)
	var dxd []float32
	if inputGrad {
		dx = New(x.shape...)
		dxd = dx.data
	}
	ConvBackward(g, dxd, dw.data, db.data, dy.HostData(), x.HostData(), w.HostData(), nil)
	return dx, dw, db
}

// Conv2d returns the convolution (PyTorch's cross-correlation) of x
// [N, C, H, W] with w [Cout, C, KH, KW], plus bias [Cout] when bias is not
// nil: y [N, Cout, OH, OW].
func Conv2d(x, w, bias *Tensor, p ConvParams) *Tensor {
	g := Conv2dGeom(x.shape, w.shape, p)
	checkBias("Conv2d", g, w, bias)
	return convApply(g, x, w, bias, g.OutShape())
}

// Conv2dBackward returns the gradients of a Conv2d with respect to its input
// (only when inputGrad, else nil), weight and bias, given the gradient dy of
// its output.
func Conv2dBackward(x, w, dy *Tensor, p ConvParams, inputGrad bool) (dx, dw, db *Tensor) {
	g := Conv2dGeom(x.shape, w.shape, p)
	checkOutGrad("Conv2dBackward", x, w, dy, g.OutShape())
	return convGrads(g, x, w, dy, inputGrad)
}

// ConvTranspose2d returns the transposed convolution of x [N, Cin, H, W]
// with w [Cin, Cout, KH, KW], plus bias [Cout] when bias is not nil:
// y [N, Cout, OH, OW] with OH = (H-1)*stride - 2*padding +
// dilation*(KH-1) + output_padding + 1, as PyTorch's ConvTranspose2d.
func ConvTranspose2d(x, w, bias *Tensor, p ConvParams) *Tensor {
	g := ConvTranspose2dGeom(x.shape, w.shape, p)
	checkBias("ConvTranspose2d", g, w, bias)
	return convApply(g, x, w, bias, g.OutShape())
}

// ConvTranspose2dBackward returns the gradients of a ConvTranspose2d with
// respect to its input (only when inputGrad, else nil), weight and bias,
// given the gradient dy of its output.
func ConvTranspose2dBackward(x, w, dy *Tensor, p ConvParams, inputGrad bool) (dx, dw, db *Tensor) {
	g := ConvTranspose2dGeom(x.shape, w.shape, p)
	checkOutGrad("ConvTranspose2dBackward", x, w, dy, g.OutShape())
	return convGrads(g, x, w, dy, inputGrad)
}

// Conv1d returns the convolution of x [N, C, L] with w [Cout, C, K], plus
// bias [Cout] when bias is not nil: y [N, Cout, Lout].
func Conv1d(x, w, bias *Tensor, p Conv1dParams) *Tensor {
	g := Conv1dGeom(x.shape, w.shape, p)
	checkBias("Conv1d", g, w, bias)
	return convApply(g, x, w, bias, []int{g.N, g.OutC, g.OutW()})
}

// Conv1dBackward returns the gradients of a Conv1d with respect to its input
// (only when inputGrad, else nil), weight and bias, given the gradient dy of
// its output.
func Conv1dBackward(x, w, dy *Tensor, p Conv1dParams, inputGrad bool) (dx, dw, db *Tensor) {
	g := Conv1dGeom(x.shape, w.shape, p)
	checkOutGrad("Conv1dBackward", x, w, dy, []int{g.N, g.OutC, g.OutW()})
	return convGrads(g, x, w, dy, inputGrad)
}

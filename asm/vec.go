package asm

// Vector primitives. Each exported function checks its lengths, hands the
// multiple-of-8 head of the data to the AVX2 kernel when that is in use, and
// finishes the tail (or everything) with the pure-Go twin, whose loop is the
// definition written in its doc comment.

func checkLen(op string, n int, others ...int) {
	for _, m := range others {
		if m != n {
			panic("asm: " + op + ": slice lengths differ")
		}
	}
}

// Axpy computes y[i] += alpha*x[i].
func Axpy(alpha float32, x, y []float32) {
	checkLen("Axpy", len(x), len(y))
	h := head(len(x))
	if h > 0 {
		axpyAVX2(alpha, &x[0], &y[0], h)
	}
	axpyGeneric(alpha, x[h:], y[h:len(x)])
}

func axpyGeneric(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

// Scale computes x[i] *= alpha.
func Scale(alpha float32, x []float32) {
	h := head(len(x))
	if h > 0 {
		scaleAVX2(alpha, &x[0], h)
	}
	scaleGeneric(alpha, x[h:])
}

func scaleGeneric(alpha float32, x []float32) {
	for i := range x {
		x[i] *= alpha
	}
}

// Dot returns the sum of x[i]*y[i]. The order of the additions differs
// between the kernels, so results agree to rounding.
func Dot(x, y []float32) float32 {
	checkLen("Dot", len(x), len(y))
	h := head(len(x))
	var s float32
	if h > 0 {
		s = dotAVX2(&x[0], &y[0], h)
	}
	return s + dotGeneric(x[h:], y[h:len(x)])
}

func dotGeneric(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Sum returns the sum of x[i], in the same blocked order as Dot.
func Sum(x []float32) float32 {
	h := head(len(x))
	var s float32
	if h > 0 {
		s = sumAVX2(&x[0], h)
	}
	return s + sumGeneric(x[h:])
}

func sumGeneric(x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i]
		s1 += x[i+1]
		s2 += x[i+2]
		s3 += x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Add computes dst[i] = x[i] + y[i]; dst may alias x or y.
func Add(dst, x, y []float32) {
	checkLen("Add", len(dst), len(x), len(y))
	h := head(len(dst))
	if h > 0 {
		addAVX2(&dst[0], &x[0], &y[0], h)
	}
	addGeneric(dst[h:], x[h:], y[h:])
}

func addGeneric(dst, x, y []float32) {
	x, y = x[:len(dst)], y[:len(dst)]
	for i := range dst {
		dst[i] = x[i] + y[i]
	}
}

// Mul computes dst[i] = x[i] * y[i]; dst may alias x or y.
func Mul(dst, x, y []float32) {
	checkLen("Mul", len(dst), len(x), len(y))
	h := head(len(dst))
	if h > 0 {
		mulAVX2(&dst[0], &x[0], &y[0], h)
	}
	mulGeneric(dst[h:], x[h:], y[h:])
}

func mulGeneric(dst, x, y []float32) {
	x, y = x[:len(dst)], y[:len(dst)]
	for i := range dst {
		dst[i] = x[i] * y[i]
	}
}

// Relu computes dst[i] = x[i] if x[i] > 0 or x[i] is NaN, else +0 (NaN
// propagates, as in PyTorch); dst may alias x.
func Relu(dst, x []float32) {
	checkLen("Relu", len(dst), len(x))
	h := head(len(dst))
	if h > 0 {
		reluAVX2(&dst[0], &x[0], h)
	}
	reluGeneric(dst[h:], x[h:])
}

func reluGeneric(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		if v <= 0 {
			v = 0
		}
		dst[i] = v
	}
}

// ReluBackward computes dx[i] = 0 if x[i] <= 0, else dy[i] (PyTorch's
// threshold_backward: a NaN input passes the gradient). x is the layer's input.
func ReluBackward(dx, x, dy []float32) {
	checkLen("ReluBackward", len(dx), len(x), len(dy))
	h := head(len(dx))
	if h > 0 {
		reluBackwardAVX2(&dx[0], &x[0], &dy[0], h)
	}
	reluBackwardGeneric(dx[h:], x[h:], dy[h:])
}

func reluBackwardGeneric(dx, x, dy []float32) {
	x, dy = x[:len(dx)], dy[:len(dx)]
	for i, v := range x {
		g := dy[i]
		if v <= 0 {
			g = 0
		}
		dx[i] = g
	}
}

// LeakyRelu computes dst[i] = x[i] if x[i] > 0, else slope*x[i]; dst may alias x.
func LeakyRelu(dst, x []float32, slope float32) {
	checkLen("LeakyRelu", len(dst), len(x))
	h := head(len(dst))
	if h > 0 {
		leakyReluAVX2(&dst[0], &x[0], slope, h)
	}
	leakyReluGeneric(dst[h:], x[h:], slope)
}

func leakyReluGeneric(dst, x []float32, slope float32) {
	x = x[:len(dst)]
	for i, v := range x {
		if !(v > 0) {
			v *= slope
		}
		dst[i] = v
	}
}

// LeakyReluBackward computes dx[i] = dy[i] if x[i] > 0, else slope*dy[i].
func LeakyReluBackward(dx, x, dy []float32, slope float32) {
	checkLen("LeakyReluBackward", len(dx), len(x), len(dy))
	h := head(len(dx))
	if h > 0 {
		leakyReluBackwardAVX2(&dx[0], &x[0], &dy[0], slope, h)
	}
	leakyReluBackwardGeneric(dx[h:], x[h:], dy[h:], slope)
}

func leakyReluBackwardGeneric(dx, x, dy []float32, slope float32) {
	x, dy = x[:len(dx)], dy[:len(dx)]
	for i, v := range x {
		g := dy[i]
		if !(v > 0) {
			g *= slope
		}
		dx[i] = g
	}
}

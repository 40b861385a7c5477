package layers

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/halo-ml/halo/tensor"
)

// haloMNIST is the rotating-MNIST network of the PyTorch timing anchor
// (torch_halo.py --arch mnist: repo sizes h = 64, K = 1, d = 64, no content
// variable, lossVrecon optional), built from this package, to time a full
// training step. The matrix exponential is a local float64 custom op
// (package halo uses symplectic's).
type haloMNIST struct {
	enc, dec, pos      *Sequential
	muQ, lsQ, muP, lsP *Linear
	tcn                *TemporalBlock
	a                  *tensor.Tensor // [K, 2d, 2d]
	j                  *tensor.Tensor // the symplectic form, [K, 2d, 2d]
	k, d               int
}

func convBlock(cin, cout int, r *rand.Rand) []Layer {
	return []Layer{NewConv2d(cin, cout, 5, 2, 2, true, r), NewBatchNorm(cout), ReLU{}}
}

func newHaloMNIST(r *rand.Rand, d int) *haloMNIST {
	const h, k = 64, 1
	v := k * d
	var enc []Layer
	enc = append(enc, convBlock(1, 128, r)...)
	enc = append(enc, convBlock(128, 128, r)...)
	enc = append(enc, convBlock(128, 128, r)...)
	enc = append(enc, Flatten{}, NewLinear(128*4*4, 4096, true, r), NewBatchNorm(4096), ReLU{},
		NewLinear(4096, h, true, r), NewBatchNorm(h), LeakyReLU{Slope: 0.01})
	dec := []Layer{
		NewLinear(v, h, true, r), NewBatchNorm(h), ReLU{},
		NewLinear(h, 128*4*4, true, r), NewBatchNorm(128 * 4 * 4), ReLU{}, Unflatten{Shape: []int{128, 4, 4}},
		NewConvTranspose2d(128, 128, 3, 1, 0, 0, true, r), NewBatchNorm(128), ReLU{},
		NewConvTranspose2d(128, 128, 5, 2, 1, 0, true, r), NewBatchNorm(128), ReLU{},
		NewConvTranspose2d(128, 128, 5, 2, 1, 1, true, r), NewBatchNorm(128), ReLU{},
		NewConvTranspose2d(128, 1, 5, 1, 2, 0, true, r), NewBatchNorm(1), Tanh{},
	}
	pos := []Layer{NewLinear(h, 2*v, true, r), NewBatchNorm(2 * v), LeakyReLU{Slope: 0.2},
		NewLinear(2*v, v, true, r), NewBatchNorm(v), LeakyReLU{Slope: 0.2}}
	m := &haloMNIST{enc: NewSequential(enc...), dec: NewSequential(dec...), pos: NewSequential(pos...),
		muQ: NewLinear(v, v, true, r), lsQ: NewLinear(v, v, true, r), muP: NewLinear(v, v, true, r), lsP: NewLinear(v, v, true, r),
		tcn: NewTemporalBlock(v, 4, 1, r), a: param(k, 2*d, 2*d), j: tensor.New(k, 2*d, 2*d), k: k, d: d}
	Orthogonal(m.a, math.Sqrt2, r)
	n := 2 * d
	for kk := range k {
		jd := m.j.Data()[kk*n*n:]
		for i := range d {
			jd[i*n+d+i] = 1
			jd[(d+i)*n+i] = -1
		}
	}
	return m
}

func (m *haloMNIST) Params() []Param {
	var ps []Param
	ps = append(ps, Prefixed("encoder", m.enc.Params())...)
	ps = append(ps, Prefixed("decoder", m.dec.Params())...)
	ps = append(ps, Prefixed("posnet", m.pos.Params())...)
	ps = append(ps, Prefixed("mu_q", m.muQ.Params())...)
	ps = append(ps, Prefixed("logsig_q", m.lsQ.Params())...)
	ps = append(ps, Prefixed("mu_p", m.muP.Params())...)
	ps = append(ps, Prefixed("logsig_p", m.lsP.Params())...)
	ps = append(ps, Prefixed("tcn", m.tcn.Params())...)
	return append(ps, Param{Name: "A", Tensor: m.a})
}

func (m *haloMNIST) SetTraining(on bool) {
	m.enc.SetTraining(on)
	m.dec.SetTraining(on)
	m.pos.SetTraining(on)
}

// loss is torch_halo.py's HALO.loss for x [B, T, 1, 28, 28] from start
// frame start, with lossVrecon (a second decoder pass on the encoded states
// and the state reconstruction term) when vrecon is set.
func (m *haloMNIST) loss(tp *tensor.Tape, x *tensor.Tensor, start int, rng *rand.Rand, vrecon bool) *tensor.Tensor {
	b, steps := x.Dim(0), x.Dim(1)
	k, d := m.k, m.d
	v := k * d
	restore := tp.Scope("encoder")
	h := m.enc.Forward(tp, tp.View(x, b*steps, 1, 28, 28))
	tp.Scope("posnet")
	vt := m.pos.Forward(tp, h)
	tp.Scope("heads")
	muQ, lsQ := m.muQ.Forward(tp, vt), m.lsQ.Forward(tp, vt)
	q := tp.Reparameterize(muQ, lsQ, rng)
	tp.Scope("tcn")
	vp := m.tcn.Forward(tp, tp.Transpose(tp.View(vt, b, steps, v), 1, 2))
	vp = tp.View(tp.Transpose(vp, 1, 2), b*steps, v)
	tp.Scope("heads")
	muP, lsP := m.muP.Forward(tp, vp), m.lsP.Forward(tp, vp)
	p := tp.Reparameterize(muP, lsP, rng)
	q = tp.L2Normalize(tp.View(q, b, steps, k, d), 3, 1e-8)
	p = tp.L2Normalize(tp.View(p, b, steps, k, d), 3, 1e-8)
	kl := tp.Add(tp.KLNormal(muQ, lsQ), tp.KLNormal(muP, lsP))
	s := tp.Concat(3, q, p) // [B, T, K, 2d]

	tp.Scope("dynamics")
	hm := tp.MatMul(m.j, tp.Scale(tp.Add(m.a, tp.Transpose(m.a, 1, 2)), 0.5))
	ex := expmOp(2 * d)
	e := tp.Transpose(tp.Custom(ex, hm.Shape(), hm), 1, 2) // [K, 2d, 2d], transposed for row vectors
	eb := tp.Transpose(tp.Custom(ex, hm.Shape(), tp.Neg(hm)), 1, 2)
	// States as [K, B, 2d] so that one batched product advances all sequences.
	cur := tp.Permute(tp.View(tp.Slice(s, 1, start, start+1), b, k, 2*d), 1, 0, 2)
	seq := make([]*tensor.Tensor, steps)
	seq[start] = cur
	for t := start + 1; t < steps; t++ {
		seq[t] = tp.MatMul(seq[t-1], e)
	}
	for t := start - 1; t >= 0; t-- {
		seq[t] = tp.MatMul(seq[t+1], eb)
	}
	traj := tp.Permute(tp.Stack(0, seq...), 2, 0, 1, 3) // [B, T, K, 2d]

	decode := func(states *tensor.Tensor) *tensor.Tensor {
		defer tp.Scope("decoder")()
		qpart := tp.View(tp.Slice(states, 3, 0, d), b*steps, k*d)
		return tp.View(m.dec.Forward(tp, qpart), x.Shape()...)
	}
	tp.Scope("loss")
	invB := 1 / float32(b)
	xGen := decode(traj)
	total := tp.Scale(tp.Add(tp.MSELoss(xGen, x, tensor.ReduceSumLoss), kl), invB)
	if vrecon {
		sLoss := tp.Scale(tp.MSELoss(traj, s, tensor.ReduceSumLoss), invB)
		xEnc := decode(s)
		total = tp.Add(total, tp.Add(tp.Scale(tp.MSELoss(xEnc, x, tensor.ReduceSumLoss), invB), sLoss))
	}
	restore()
	return total
}

// expmOp is exp of a batch of n x n matrices in float64 with the adjoint of
// its Fréchet derivative as gradient: the upper right block of
// exp([[Hᵀ, G], [0, Hᵀ]]), with G scaled to norm 1 so that it does not
// inflate the scaling.
func expmOp(n int) tensor.CustomOp {
	return tensor.CustomOp{
		Name: "expm",
		Forward: func(in [][]float32, out []float32) {
			for b := 0; b < len(out); b += n * n {
				a := make([]float64, n*n)
				for i := range a {
					a[i] = float64(in[0][b+i])
				}
				for i, v := range expmTaylor(a, n) {
					out[b+i] = float32(v)
				}
			}
		},
		Backward: func(in [][]float32, _, dout []float32, din [][]float32) {
			if din[0] == nil {
				return
			}
			for b := 0; b < len(dout); b += n * n {
				var gn float64
				for _, v := range dout[b : b+n*n] {
					gn = math.Max(gn, math.Abs(float64(v)))
				}
				if gn == 0 {
					continue
				}
				at, g := make([]float64, n*n), make([]float64, n*n)
				for i := range n {
					for j := range n {
						at[i*n+j] = float64(in[0][b+j*n+i])
						g[i*n+j] = float64(dout[b+i*n+j]) / gn
					}
				}
				_, l := expmPair(at, g, n)
				for i, v := range l {
					din[0][b+i] += float32(gn * v)
				}
			}
		},
	}
}

// expmTaylor is exp(a) for an n x n matrix: scaling to 1-norm <= 1/2, a
// degree-12 Taylor polynomial and squaring.
func expmTaylor(a []float64, n int) []float64 {
	e, _ := expmPair(a, nil, n)
	return e
}

// matMul64 returns x·y for n x n row-major matrices.
func matMul64(x, y []float64, n int) []float64 {
	z := make([]float64, n*n)
	for i := range n {
		zi := z[i*n : (i+1)*n]
		for k := range n {
			xik := x[i*n+k]
			if xik == 0 {
				continue
			}
			for j, yv := range y[k*n : (k+1)*n] {
				zi[j] += xik * yv
			}
		}
	}
	return z
}

// expmPair returns the blocks (E, L) of exp([[a, g], [0, a]]) = [[E, L],
// [0, E]], computed on the pairs (P, Q) that stand for [[P, Q], [0, P]]
// (whose products cost three n x n products, not eight). With g nil it is
// exp(a) alone.
func expmPair(a, g []float64, n int) (e, l []float64) {
	norm := 0.0
	for j := range n {
		var s float64
		for i := range n {
			s += math.Abs(a[i*n+j])
			if g != nil {
				s += math.Abs(g[i*n+j])
			}
		}
		norm = math.Max(norm, s)
	}
	sq := 0
	for norm > 0.5 {
		norm /= 2
		sq++
	}
	scale := math.Ldexp(1, -sq)
	mul := func(p1, q1, p2, q2 []float64) (p, q []float64) {
		p = matMul64(p1, p2, n)
		if q1 == nil {
			return p, nil
		}
		q = matMul64(p1, q2, n)
		for i, v := range matMul64(q1, p2, n) {
			q[i] += v
		}
		return p, q
	}
	as := make([]float64, n*n)
	var gs []float64
	for i := range as {
		as[i] = a[i] * scale
	}
	if g != nil {
		gs = make([]float64, n*n)
		for i := range gs {
			gs[i] = g[i] * scale
		}
	}
	e = make([]float64, n*n)
	tp := make([]float64, n*n)
	var tq []float64
	if g != nil {
		l = make([]float64, n*n)
		tq = make([]float64, n*n)
	}
	for i := range n {
		e[i*n+i] = 1
		tp[i*n+i] = 1
	}
	for k := 1; k <= 12; k++ {
		tp, tq = mul(tp, tq, as, gs)
		for i := range tp {
			tp[i] /= float64(k)
			e[i] += tp[i]
			if tq != nil {
				tq[i] /= float64(k)
				l[i] += tq[i]
			}
		}
	}
	for range sq {
		e, l = mul(e, l, e, l)
	}
	return e, l
}

func randBatch(r *rand.Rand, shape ...int) *tensor.Tensor {
	x := tensor.New(shape...)
	for i := range x.Data() {
		x.Data()[i] = float32(2*r.Float64() - 1)
	}
	return x
}

// A few training steps of the network at a small batch: the loss is finite
// and falls on a fixed batch, every parameter gets a gradient, and a tape
// that recycles its buffers gives the same losses and parameters to the bit.
func TestHaloMNISTTrains(t *testing.T) {
	run := func(recycle bool) ([]float32, []Param) {
		r := rand.New(rand.NewPCG(1, 2))
		m := newHaloMNIST(r, 8)
		x := randBatch(r, 2, 4, 1, 28, 28)
		opt := NewAdam(Trainable(m), 1e-3)
		opt.Beta1 = 0.5
		tp := tensor.NewTape()
		tp.SetRecycle(recycle)
		var losses []float32
		for i := range 3 {
			ZeroGrad(m)
			loss := m.loss(tp, x, 2, rand.New(rand.NewPCG(3, 4)), true)
			losses = append(losses, loss.Data()[0])
			tp.Backward(loss)
			for _, p := range m.Params() {
				if !p.Buffer && p.Tensor.Grad() == nil {
					t.Fatalf("step %d: no gradient for %s", i, p.Name)
				}
			}
			opt.Step()
		}
		return losses, m.Params()
	}
	losses, params := run(false)
	if l := losses[len(losses)-1]; math.IsNaN(float64(l)) || !(l < losses[0]) {
		t.Fatalf("losses %v do not fall", losses)
	}
	losses2, params2 := run(true)
	for i := range losses {
		if losses[i] != losses2[i] {
			t.Fatalf("step %d: loss %g with recycling, %g without", i, losses2[i], losses[i])
		}
	}
	for i, p := range params {
		for j, v := range p.Tensor.Data() {
			if p2 := params2[i].Tensor.Data()[j]; p2 != v {
				t.Fatalf("%s[%d] = %g with recycling, %g without", p.Name, j, p2, v)
			}
		}
	}
}

// BenchmarkHaloMNISTStep times one full training step (zero grad, forward,
// loss, backward, Adam) of torch_halo.py --arch mnist at batch 24, 16
// frames, without and with lossVrecon (--vrecon 0, rmnist.yaml's setting,
// and --vrecon 1), and reports the effective GFLOP/s by the script's
// estimate (3x its forward FLOPs), then logs a per-layer profile of one
// more step.
func BenchmarkHaloMNISTStep(b *testing.B) {
	for _, vrecon := range []bool{false, true} {
		name := "vrecon=0"
		if vrecon {
			name = "vrecon=1"
		}
		b.Run(name, func(b *testing.B) { benchHaloMNISTStep(b, vrecon) })
	}
}

func benchHaloMNISTStep(b *testing.B, vrecon bool) {
	r := rand.New(rand.NewPCG(1, 2))
	m := newHaloMNIST(r, 64)
	const batch, frames = 24, 16
	x := randBatch(r, batch, frames, 1, 28, 28)
	params := Trainable(m)
	opt := NewAdam(params, 2e-4)
	opt.Beta1 = 0.5
	tp := tensor.NewTape()
	tp.SetRecycle(true)
	step := func(i int) {
		ZeroGrad(m)
		loss := m.loss(tp, x, i%(frames-1), r, vrecon)
		tp.Backward(loss)
		opt.Step()
	}
	step(0)
	b.ResetTimer()
	t0 := time.Now()
	for i := range b.N {
		step(i)
	}
	sec := time.Since(t0).Seconds() / float64(b.N)
	b.ReportMetric(3*mnistForwardFlops(batch, frames, vrecon)/sec/1e9, "GFLOP/s")
	b.StopTimer()
	// One more step with the per-layer profile, outside the timing.
	prof := tensor.NewProfile()
	tp.SetProfile(prof)
	t1 := time.Now()
	step(1)
	ta := time.Now()
	opt.Step()
	b.Logf("profiled step %.3fs (an extra Adam step %.3fs)\n%s", ta.Sub(t1).Seconds(), time.Since(ta).Seconds(), prof)
}

// mnistForwardFlops is torch_halo.py's forward_flops for the mnist preset:
// 2 x the multiply-adds of the convolutions and linear layers plus the
// temporal convolutions and the trajectory; the decoder counts twice with
// vrecon.
func mnistForwardFlops(b, t int, vrecon bool) float64 {
	rows := float64(b * t)
	f := 0.0
	conv := func(outHW, cout, k int) float64 { return 2 * rows * float64(outHW*cout*k) }
	f += conv(14*14, 128, 1*25) + conv(7*7, 128, 128*25) + conv(4*4, 128, 128*25)
	lin := func(in, out int) float64 { return 2 * rows * float64(in*out) }
	f += lin(2048, 4096) + lin(4096, 64)
	convT := func(inHW, cin, coutKK int) float64 { return 2 * rows * float64(inHW*cin*coutKK) }
	dec := lin(64, 64) + lin(64, 2048) + convT(16, 128, 128*9) + convT(36, 128, 128*25) + convT(169, 128, 128*25) + convT(784, 128, 25)
	f += dec
	if vrecon {
		f += dec
	}
	f += lin(64, 128) + lin(128, 64) + 4*lin(64, 64)
	l := t + 2*3 - 4 + 1
	f += 2 * 2 * float64(b*l*64*64*4)
	f += 2 * float64((t-1)*b*1*128*128)
	return f
}

// The benchmark's matrix exponential passes the gradient check, and its
// forward agrees with the series evaluated without scaling.
func TestLocalExpmOp(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	h := tensor.New(2, 4, 4)
	for i := range h.Data() {
		h.Data()[i] = float32(r.NormFloat64())
	}
	op := expmOp(4)
	if err := tensor.GradCheck(func(tp *tensor.Tape, in []*tensor.Tensor) *tensor.Tensor {
		return tp.Custom(op, in[0].Shape(), in[0])
	}, []*tensor.Tensor{h}, tensor.GradCheckOptions{Step: 1e-3}); err != nil {
		t.Fatal(err)
	}
	a := make([]float64, 16)
	for i := range a {
		a[i] = float64(h.Data()[i])
	}
	e := expmTaylor(a, 4)
	// exp(A) by 60 terms of the series without scaling.
	ref := make([]float64, 16)
	term := make([]float64, 16)
	for i := range 4 {
		ref[i*5], term[i*5] = 1, 1
	}
	for k := 1; k <= 60; k++ {
		term = matMul64(term, a, 4)
		for i := range term {
			term[i] /= float64(k)
			ref[i] += term[i]
		}
	}
	for i := range e {
		if math.Abs(e[i]-ref[i]) > 1e-12*math.Max(1, math.Abs(ref[i])) {
			t.Fatalf("exp(A)[%d] = %.17g, series %.17g", i, e[i], ref[i])
		}
	}
}

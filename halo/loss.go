package halo

import (
	"fmt"
	"math/rand/v2"

	"github.com/halo-ml/halo/tensor"
)

// Noise supplies the standard normal draws of the reparameterisation,
// in the order z, q, p, row-major within each.
type Noise interface {
	Fill(dst []float32)
}

// RandNoise draws the noise from a generator.
type RandNoise struct{ Rng *rand.Rand }

// Fill writes standard normal values.
func (n RandNoise) Fill(dst []float32) {
	for i := range dst {
		dst[i] = float32(n.Rng.NormFloat64())
	}
}

// Terms are the loss terms of one batch (PROTOCOLS.md section 6), each
// already weighted and divided by the batch size; Total is their sum.
type Terms struct {
	Recon    float64 `json:"recon"`    // x against the decoded rollout
	VRecon   float64 `json:"vrecon"`   // x against the decoded encoded states (loss_vrecon)
	State    float64 `json:"state"`    // rollout against encoded states (loss_vrecon)
	KLZ      float64 `json:"kl_z"`     // content
	KLQP     float64 `json:"kl_qp"`    // position and momentum
	Temporal float64 `json:"temporal"` // frame differences (temporal_loss)
	Total    float64 `json:"total"`
}

// encoding is the latent description of a batch.
type encoding struct {
	z, muZ, lsZ        *tensor.Tensor // [B, Z]; nil without content
	q, p               *tensor.Tensor // [B, T, K, d], normalised and masked
	muQ, lsQ, muP, lsP *tensor.Tensor // [B, T, K, d], masked
	s                  *tensor.Tensor // [B, T, K, 2d] = [q, p] per subspace
	mask               *tensor.Tensor // [B, 1, K, 1] when conditional, else nil
}

// actionMask returns the one-hot mask [B, 1, K, 1] of the actions.
func (m *Model) actionMask(actions []int) (*tensor.Tensor, error) {
	k := m.Cfg.Operators
	mask := tensor.New(len(actions), 1, k, 1)
	for i, a := range actions {
		if a < 0 || a >= k {
			return nil, fmt.Errorf("halo: action %d of sequence %d outside [0, %d)", a, i, k)
		}
		mask.Data()[i*k+a] = 1
	}
	return mask, nil
}

// encode maps x [B, T, C, H, W] to the latent variables. With noise nil the
// means are used (inference); actions are needed by conditional models.
func (m *Model) encode(tp *tensor.Tape, x *tensor.Tensor, actions []int, frameMask *tensor.Tensor, noise Noise) (*encoding, error) {
	c := m.Cfg
	if x.Rank() != 5 || x.Dim(2) != c.C || x.Dim(3) != c.H || x.Dim(4) != c.W {
		return nil, fmt.Errorf("halo: input %s does not fit the model's frames [B T %d %d %d]", tensor.ShapeString(x.Shape()), c.C, c.H, c.W)
	}
	b, t := x.Dim(0), x.Dim(1)
	if c.Conditional && len(actions) != b {
		return nil, fmt.Errorf("halo: conditional model needs one action per sequence: %d for %d sequences", len(actions), b)
	}
	k, d, v := c.Operators, c.D, c.V()
	e := &encoding{}
	sample := func(mu, ls *tensor.Tensor) *tensor.Tensor {
		if noise == nil {
			return mu
		}
		eps := tensor.New(mu.Shape()...)
		noise.Fill(eps.Data())
		return tp.Add(mu, tp.Mul(eps, tp.Exp(tp.Scale(ls, 0.5))))
	}

	restore := tp.Scope("encoder")
	h := m.Encoder.Forward(tp, tp.View(x, b*t, c.C, c.H, c.W)) // [B*T, h]
	restore()
	hs := tp.View(h, b, t, c.HDim)

	if m.Content != nil {
		restore := tp.Scope("content")
		out, _, _ := m.Content.Forward(tp, hs) // [B, T, Z]
		half := c.ZDim / 2
		last := tp.View(tp.Slice(out, 1, t-1, t), b, c.ZDim)
		first := tp.View(tp.Slice(out, 1, 0, 1), b, c.ZDim)
		zf := tp.Concat(1, tp.Slice(last, 1, 0, half), tp.Slice(first, 1, half, c.ZDim))
		e.muZ, e.lsZ = m.MuZ.Forward(tp, zf), m.LsZ.Forward(tp, zf)
		e.z = sample(e.muZ, e.lsZ)
		restore()
	}

	restore = tp.Scope("position")
	pin := h
	if c.Conditional {
		u := tensor.New(b*t, k)
		for i, a := range actions {
			if a < 0 || a >= k {
				return nil, fmt.Errorf("halo: action %d of sequence %d outside [0, %d)", a, i, k)
			}
			for j := range t {
				u.Data()[(i*t+j)*k+a] = 1
			}
		}
		pin = tp.Concat(1, h, u)
	}
	vt := m.PosNet.Forward(tp, pin) // [B*T, v]
	e.muQ, e.lsQ = m.MuQ.Forward(tp, vt), m.LsQ.Forward(tp, vt)
	q := sample(e.muQ, e.lsQ)
	restore()

	restore = tp.Scope("momentum")
	vp := tp.Transpose(m.TCN.Forward(tp, tp.Transpose(tp.View(vt, b, t, v), 1, 2)), 1, 2) // [B, T, v]
	vp = tp.View(vp, b*t, v)
	e.muP, e.lsP = m.MuP.Forward(tp, vp), m.LsP.Forward(tp, vp)
	p := sample(e.muP, e.lsP)
	restore()

	shape := []int{b, t, k, d}
	q, p = tp.View(q, shape...), tp.View(p, shape...)
	e.muQ, e.lsQ = tp.View(e.muQ, shape...), tp.View(e.lsQ, shape...)
	e.muP, e.lsP = tp.View(e.muP, shape...), tp.View(e.lsP, shape...)
	if c.NormalizeQP {
		q, p = tp.L2Normalize(q, 3, 1e-8), tp.L2Normalize(p, 3, 1e-8)
	}
	if c.Conditional {
		mask, err := m.actionMask(actions)
		if err != nil {
			return nil, err
		}
		e.mask = mask
		q, p = tp.Mul(q, mask), tp.Mul(p, mask)
		e.muQ, e.lsQ = tp.Mul(e.muQ, mask), tp.Mul(e.lsQ, mask)
		e.muP, e.lsP = tp.Mul(e.muP, mask), tp.Mul(e.lsP, mask)
	}
	if frameMask != nil {
		// Unobserved frames add nothing to the KL terms.
		e.muQ, e.lsQ = tp.Mul(e.muQ, frameMask), tp.Mul(e.lsQ, frameMask)
		e.muP, e.lsP = tp.Mul(e.muP, frameMask), tp.Mul(e.lsP, frameMask)
	}
	e.q, e.p = q, p
	e.s = tp.Concat(3, q, p)
	return e, nil
}

// decode renders states [B, T, K, 2d] with content z [B, Z] (nil without
// content): [B, T, C, H, W].
func (m *Model) decode(tp *tensor.Tape, z, states *tensor.Tensor) *tensor.Tensor {
	c := m.Cfg
	b, t := states.Dim(0), states.Dim(1)
	out := m.decodeRows(tp, z, states, nil)
	return tp.View(out, b, t, c.C, c.H, c.W)
}

// decodeRows renders the frames rows (indices into the B*T frames of states
// [B, T, K, 2d]; nil: all) with content z [B, Z] (nil without content):
// [len(rows), C, H, W]. Decoding only the observed frames keeps the missing
// ones out of the decoder's batch statistics, where a frame missing from
// every sequence would otherwise be free to take any value that suits the
// normalisation of the others.
func (m *Model) decodeRows(tp *tensor.Tape, z, states *tensor.Tensor, rows []int) *tensor.Tensor {
	c := m.Cfg
	b, t := states.Dim(0), states.Dim(1)
	in := tp.View(tp.Slice(states, 3, 0, c.D), b*t, c.V())
	if z != nil {
		ze := tp.Add(tp.View(z, b, 1, c.ZDim), tensor.New(b, t, c.ZDim))
		in = tp.Concat(1, tp.View(ze, b*t, c.ZDim), in)
	}
	if rows != nil {
		in = tp.IndexSelect(in, 0, rows)
	}
	defer tp.Scope("decoder")()
	out := m.Decoder.Forward(tp, in)
	return tp.View(out, out.Dim(0), c.C, c.H, c.W)
}

// LossInput is one training batch as the loss sees it.
type LossInput struct {
	X       *tensor.Tensor // [B, T, C, H, W] on the model's scale
	Actions []int          // per sequence; needed when conditional
	// FrameMask is [B*T], 1 for observed frames; nil when all are.
	FrameMask []float32
	Start     int   // the frame the rollout starts from, in [0, T-2]
	Noise     Noise // the reparameterisation's draws
}

// Loss runs the model on a batch and returns the loss on the tape with its
// terms (PROTOCOLS.md section 6):
//
//	recon_term * [SSE(x, D(z, q~)) + λ_f SSE(x, D(z, q))] / B
//	+ BetaV1 λ_f SSE(s~, s) / B
//	+ (BetaZ KL_z + BetaV (KL_q + KL_p)) / B
//	+ BetaT λ_T SSE(Δx, Δx^) / B
//
// where s~ is the rollout from the start frame, λ_f = loss_vrecon and
// λ_T = temporal_loss. Unobserved frames (FrameMask) are zeroed in the
// input and left out of every term.
func (m *Model) Loss(tp *tensor.Tape, in LossInput) (*tensor.Tensor, Terms, error) {
	c := m.Cfg
	x := in.X
	if x.Rank() != 5 {
		return nil, Terms{}, fmt.Errorf("halo: batch %s, want [B T C H W]", tensor.ShapeString(x.Shape()))
	}
	b, t := x.Dim(0), x.Dim(1)
	if in.Start < 0 || in.Start > t-2 {
		return nil, Terms{}, fmt.Errorf("halo: start frame %d outside [0, %d]", in.Start, t-2)
	}
	var fm5, fm4 *tensor.Tensor
	if in.FrameMask != nil {
		if len(in.FrameMask) != b*t {
			return nil, Terms{}, fmt.Errorf("halo: frame mask of %d values for %d frames", len(in.FrameMask), b*t)
		}
		fm5 = tensor.FromSlice(append([]float32(nil), in.FrameMask...), b, t, 1, 1, 1)
		fm4 = tensor.FromSlice(append([]float32(nil), in.FrameMask...), b, t, 1, 1)
		x = tp.Mul(x, fm5)
	}
	e, err := m.encode(tp, x, in.Actions, fm4, in.Noise)
	if err != nil {
		return nil, Terms{}, err
	}
	restore := tp.Scope("dynamics")
	s0 := tp.View(tp.Slice(e.s, 1, in.Start, in.Start+1), b, c.Operators, 2*c.D)
	traj := m.Dyn.Rollout(tp, s0, in.Start, t)
	if e.mask != nil {
		traj = tp.Mul(traj, e.mask)
	}
	restore()

	invB := float32(1) / float32(b)
	sse := func(a, y, mask *tensor.Tensor) *tensor.Tensor {
		diff := tp.Sub(a, y)
		if mask != nil {
			diff = tp.Mul(diff, mask)
		}
		return tp.SumSquares(diff, false)
	}
	var parts []*tensor.Tensor
	var names []*float64
	var terms Terms
	add := func(v *tensor.Tensor, w float32, dst *float64) {
		parts = append(parts, tp.Scale(v, w*invB))
		names = append(names, dst)
	}

	// With a frame mask only the observed frames are decoded and compared.
	var rows []int
	xr := tp.View(x, b*t, c.C, c.H, c.W)
	if in.FrameMask != nil {
		for i, v := range in.FrameMask {
			if v != 0 {
				rows = append(rows, i)
			}
		}
		if len(rows) == 0 {
			return nil, Terms{}, fmt.Errorf("halo: no frame of the batch is observed")
		}
		xr = tp.IndexSelect(xr, 0, rows)
	}
	xGen := m.decodeRows(tp, e.z, traj, rows)
	add(sse(xGen, xr, nil), float32(c.ReconTerm), &terms.Recon)
	if c.LossVRecon {
		xEnc := m.decodeRows(tp, e.z, e.s, rows)
		add(sse(xEnc, xr, nil), float32(c.ReconTerm), &terms.VRecon)
		add(sse(traj, e.s, fm4), float32(c.BetaV1), &terms.State)
	}
	if e.muZ != nil && c.BetaZ != 0 {
		add(tp.KLNormal(e.muZ, e.lsZ), float32(c.BetaZ), &terms.KLZ)
	}
	if c.BetaV != 0 {
		add(tp.Add(tp.KLNormal(e.muQ, e.lsQ), tp.KLNormal(e.muP, e.lsP)), float32(c.BetaV), &terms.KLQP)
	}
	if c.TemporalLoss && c.BetaT != 0 {
		if rows == nil {
			gs := tp.View(xGen, b, t, c.C, c.H, c.W)
			dx := tp.Sub(tp.Slice(x, 1, 1, t), tp.Slice(x, 1, 0, t-1))
			dg := tp.Sub(tp.Slice(gs, 1, 1, t), tp.Slice(gs, 1, 0, t-1))
			add(sse(dg, dx, nil), float32(c.BetaT), &terms.Temporal)
		} else if prev, next := observedPairs(rows, b, t); len(prev) > 0 {
			// Differences whose two frames are both observed.
			dx := tp.Sub(tp.IndexSelect(xr, 0, next), tp.IndexSelect(xr, 0, prev))
			dg := tp.Sub(tp.IndexSelect(xGen, 0, next), tp.IndexSelect(xGen, 0, prev))
			add(sse(dg, dx, nil), float32(c.BetaT), &terms.Temporal)
		}
	}
	total := parts[0]
	for _, p := range parts[1:] {
		total = tp.Add(total, p)
	}
	for i, p := range parts {
		*names[i] = float64(p.HostData()[0])
	}
	terms.Total = float64(total.HostData()[0])
	return total, terms, nil
}

// observedPairs returns, for the observed frames rows (sorted indices into
// B*T frames), the positions in rows of every pair of consecutive frames of
// a sequence that are both observed: prev[i] then next[i].
func observedPairs(rows []int, b, t int) (prev, next []int) {
	pos := make(map[int]int, len(rows))
	for j, r := range rows {
		pos[r] = j
	}
	for i := range b {
		for f := 1; f < t; f++ {
			ja, oka := pos[i*t+f-1]
			jz, okz := pos[i*t+f]
			if oka && okz {
				prev, next = append(prev, ja), append(next, jz)
			}
		}
	}
	return prev, next
}

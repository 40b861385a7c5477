package halo

import (
	"fmt"
	"math"
)

// Image metrics of PROTOCOLS.md section 5. Frames are float32 on the [0, 1]
// scale in our channel-planar layout [C, H, W]; all arithmetic is float64.

// MSE returns the mean of (a-b)^2 over all elements.
func MSE(a, b []float32) float64 {
	if len(a) != len(b) {
		panic(fmt.Sprintf("halo: MSE: lengths %d and %d differ", len(a), len(b)))
	}
	if len(a) == 0 {
		return 0
	}
	var s float64
	for i, x := range a {
		d := float64(x) - float64(b[i])
		s += d * d
	}
	return s / float64(len(a))
}

// PSNRFromMSE returns 10*log10(1/mse) for data range 1; identical frames
// (mse < 1e-10) score 100 dB instead of infinity, so means stay finite.
func PSNRFromMSE(mse float64) float64 {
	if mse < 1e-10 {
		return 100
	}
	return 10 * math.Log10(1/mse)
}

// PSNR returns the peak signal-to-noise ratio of a against b, data range 1.
func PSNR(a, b []float32) float64 { return PSNRFromMSE(MSE(a, b)) }

// SSIM window and constants: scikit-image's structural_similarity defaults
// with data_range=1.
const (
	ssimWin = 7
	ssimC1  = 0.01 * 0.01
	ssimC2  = 0.03 * 0.03
)

// SSIM returns the structural similarity of two [C, H, W] frames exactly as
// skimage.metrics.structural_similarity(a, b, data_range=1, channel_axis=-1)
// with its other defaults: per channel a uniform 7x7 window, sample
// covariances (x49/48), C1 = 0.01^2, C2 = 0.03^2, the mean of the SSIM map
// over the window centres at least 3 px from the border, then the mean over
// channels. H and W must be at least 7.
func SSIM(a, b []float32, c, h, w int) float64 {
	if len(a) != c*h*w || len(b) != c*h*w {
		panic(fmt.Sprintf("halo: SSIM: frames of %d and %d elements for shape [%d %d %d]", len(a), len(b), c, h, w))
	}
	if h < ssimWin || w < ssimWin {
		panic(fmt.Sprintf("halo: SSIM: frame %dx%d is smaller than the %dx%d window", h, w, ssimWin, ssimWin))
	}
	var s ssimScratch
	var total float64
	for ch := 0; ch < c; ch++ {
		total += s.channel(a[ch*h*w:(ch+1)*h*w], b[ch*h*w:(ch+1)*h*w], h, w)
	}
	return total / float64(c)
}

// ssimScratch holds the column sums reused across channels.
type ssimScratch struct {
	col [5][]float64
}

// channel returns the mean SSIM of one plane. Window sums are built from
// vertical 7-row sums per column, then slid horizontally.
func (s *ssimScratch) channel(x, y []float32, h, w int) float64 {
	const np = ssimWin * ssimWin
	const covNorm = float64(np) / float64(np-1)
	for k := range s.col {
		if cap(s.col[k]) < w {
			s.col[k] = make([]float64, w)
		}
		s.col[k] = s.col[k][:w]
	}
	var total float64
	for top := 0; top+ssimWin <= h; top++ {
		for j := 0; j < w; j++ {
			var sx, sy, sxx, syy, sxy float64
			for i := top; i < top+ssimWin; i++ {
				u, v := float64(x[i*w+j]), float64(y[i*w+j])
				sx += u
				sy += v
				sxx += u * u
				syy += v * v
				sxy += u * v
			}
			s.col[0][j], s.col[1][j], s.col[2][j], s.col[3][j], s.col[4][j] = sx, sy, sxx, syy, sxy
		}
		for left := 0; left+ssimWin <= w; left++ {
			var sx, sy, sxx, syy, sxy float64
			for j := left; j < left+ssimWin; j++ {
				sx += s.col[0][j]
				sy += s.col[1][j]
				sxx += s.col[2][j]
				syy += s.col[3][j]
				sxy += s.col[4][j]
			}
			ux, uy := sx/np, sy/np
			vx := covNorm * (sxx/np - ux*ux)
			vy := covNorm * (syy/np - uy*uy)
			vxy := covNorm * (sxy/np - ux*uy)
			a1 := 2*ux*uy + ssimC1
			a2 := 2*vxy + ssimC2
			b1 := ux*ux + uy*uy + ssimC1
			b2 := vx + vy + ssimC2
			total += (a1 * a2) / (b1 * b2)
		}
	}
	return total / float64((h-ssimWin+1)*(w-ssimWin+1))
}

// FrameScore holds the three metrics of one frame.
type FrameScore struct {
	MSE, PSNR, SSIM float64
}

// ScoreFrame computes MSE, PSNR and SSIM of one [C, H, W] frame.
func ScoreFrame(pred, truth []float32, c, h, w int) FrameScore {
	m := MSE(pred, truth)
	return FrameScore{MSE: m, PSNR: PSNRFromMSE(m), SSIM: SSIM(pred, truth, c, h, w)}
}

// ScoreSequence scores every frame of two sequences of shape d.
func ScoreSequence(pred, truth []float32, d Dims) []FrameScore {
	n := d.FrameLen()
	if len(pred) != d.T*n || len(truth) != d.T*n {
		panic(fmt.Sprintf("halo: ScoreSequence: sequences of %d and %d elements for %v", len(pred), len(truth), d))
	}
	out := make([]FrameScore, d.T)
	for t := range out {
		out[t] = ScoreFrame(pred[t*n:(t+1)*n], truth[t*n:(t+1)*n], d.C, d.H, d.W)
	}
	return out
}

// Summary is a mean and a population standard deviation (ddof = 0) over N
// values.
type Summary struct {
	Mean, Std float64
	N         int
}

// Summarize returns the mean and population standard deviation of v.
func Summarize(v []float64) Summary {
	if len(v) == 0 {
		return Summary{Mean: math.NaN(), Std: math.NaN()}
	}
	var m float64
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	var s float64
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return Summary{Mean: m, Std: math.Sqrt(s / float64(len(v))), N: len(v)}
}

// String formats the summary as mean±std.
func (s Summary) String() string { return fmt.Sprintf("%.6g±%.3g", s.Mean, s.Std) }

// SetScores accumulates per-frame scores of many sequences; a sequence's
// score is the mean over its frames, and a set's is the mean and standard
// deviation over sequences (PROTOCOLS.md section 5).
type SetScores struct {
	Frames [][]FrameScore // per sequence, per frame
}

// Add scores one predicted sequence against its ground truth.
func (s *SetScores) Add(pred, truth []float32, d Dims) {
	s.Frames = append(s.Frames, ScoreSequence(pred, truth, d))
}

// SetSummary is the summary of a set of sequences over a range of frames.
type SetSummary struct {
	MSE, PSNR, SSIM Summary
	From, To        int // frames [From, To) were averaged per sequence
}

// Summary averages frames [from, to) of every sequence, then summarises over
// sequences. to <= 0 means up to the last frame.
func (s *SetScores) Summary(from, to int) SetSummary {
	var mse, psnr, ssim []float64
	for _, seq := range s.Frames {
		hi := to
		if hi <= 0 || hi > len(seq) {
			hi = len(seq)
		}
		if from >= hi {
			panic(fmt.Sprintf("halo: SetScores.Summary: empty frame range [%d, %d) of %d frames", from, hi, len(seq)))
		}
		var m, p, q float64
		for _, f := range seq[from:hi] {
			m += f.MSE
			p += f.PSNR
			q += f.SSIM
		}
		k := float64(hi - from)
		mse, psnr, ssim = append(mse, m/k), append(psnr, p/k), append(ssim, q/k)
		to = hi
	}
	return SetSummary{MSE: Summarize(mse), PSNR: Summarize(psnr), SSIM: Summarize(ssim), From: from, To: to}
}

// PerFrame returns the mean of each metric at each frame index over the set.
func (s *SetScores) PerFrame() []FrameScore {
	if len(s.Frames) == 0 {
		return nil
	}
	out := make([]FrameScore, len(s.Frames[0]))
	for _, seq := range s.Frames {
		for t := range out {
			out[t].MSE += seq[t].MSE
			out[t].PSNR += seq[t].PSNR
			out[t].SSIM += seq[t].SSIM
		}
	}
	n := float64(len(s.Frames))
	for t := range out {
		out[t].MSE /= n
		out[t].PSNR /= n
		out[t].SSIM /= n
	}
	return out
}

package halo

import (
	"fmt"

	"github.com/halo-ml/halo/tensor"
)

// GenerationReport holds the scores of image-to-sequence generation on a
// split (PROTOCOLS.md section 5): every sequence is generated for Frames
// frames from its frame 0 and compared with its ground truth, the sequence
// repeated cyclically to that length (Sprites: x0..x7, x0..x7).
type GenerationReport struct {
	Split     string       `json:"split"`
	Sequences int          `json:"sequences"`
	Frames    int          `json:"frames"`
	All       SetSummary   `json:"all_frames"`
	Later     SetSummary   `json:"frames_1_on"` // frame 0 left out
	PerFrame  []FrameScore `json:"per_frame"`
	// AtIndex is the per-pixel MSE at frame Index alone, mean over sequences
	// (rotating MNIST's protocol scores index 3).
	Index   int     `json:"index"`
	AtIndex Summary `json:"mse_at_index"`
}

// EvalGeneration scores generation on split s (at most limit sequences; 0:
// all), batch sequences at a time. Conditional models use each sequence's
// motion label as the action.
func (m *Model) EvalGeneration(name string, s Split, frames, index, limit, batch int) (*GenerationReport, error) {
	c := m.Cfg
	d := s.Dims()
	if d.C != c.C || d.H != c.H || d.W != c.W {
		return nil, fmt.Errorf("halo: eval: split %s has frames %s, the model takes %dx%dx%d", name, d, c.C, c.H, c.W)
	}
	if frames < 1 || index < 0 || index >= frames {
		return nil, fmt.Errorf("halo: eval: %d frames, index %d", frames, index)
	}
	n := s.Len()
	if limit > 0 {
		n = min(n, limit)
	}
	if n == 0 {
		return nil, fmt.Errorf("halo: eval: split %s is empty", name)
	}
	batch = max(batch, 1)
	scale := c.Scale()
	rep := &GenerationReport{Split: name, Sequences: n, Frames: frames, Index: index}
	var scores SetScores
	var atIndex []float64
	fl := d.FrameLen()
	seq := make([]float32, d.Len())
	dg := Dims{T: frames, C: d.C, H: d.H, W: d.W}
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		first := tensor.New(hi-lo, d.C, d.H, d.W)
		truth := make([][]float32, hi-lo)
		actions := make([]int, hi-lo)
		for i := lo; i < hi; i++ {
			if err := s.Read(i, seq); err != nil {
				return nil, err
			}
			truth[i-lo] = make([]float32, frames*fl)
			for t := range frames {
				copy(truth[i-lo][t*fl:(t+1)*fl], seq[(t%d.T)*fl:(t%d.T+1)*fl])
			}
			copy(first.Data()[(i-lo)*fl:], seq[:fl])
			actions[i-lo] = s.Label(i).Motion
		}
		scale.FromUnit(first.Data())
		var acts []int
		if c.Conditional {
			acts = actions
		}
		g, err := m.Generate(first, acts, frames)
		if err != nil {
			return nil, err
		}
		out := g.Frames.Data()
		scale.ToUnit(out)
		for i := range truth {
			pred := out[i*frames*fl : (i+1)*frames*fl]
			scores.Add(pred, truth[i], dg)
			atIndex = append(atIndex, MSE(pred[index*fl:(index+1)*fl], truth[i][index*fl:(index+1)*fl]))
		}
	}
	rep.All = scores.Summary(0, 0)
	rep.Later = scores.Summary(1, 0)
	rep.PerFrame = scores.PerFrame()
	rep.AtIndex = Summarize(atIndex)
	return rep, nil
}

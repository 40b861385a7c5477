package halo

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/halo-ml/halo/tensor"
)

// ExportOptions sets what ExportDataset writes.
type ExportOptions struct {
	Limit   int // at most this many sequences per split (psprites: characters); 0 = all
	Preview int // sequences shown in each split's PNG and GIF preview; 0 = none
	// SpritesLayout writes psprites in the real Sprites files' layout
	// (PROTOCOLS.md section 3.1) instead of NTCHW arrays.
	SpritesLayout bool
}

// ExportDataset writes every split of ds into dir: for split s the frames
// s_frames.npy (float32 [N, T, C, H, W] on [0, 1]), s_labels.npy (int64 [N,
// 1+F]: the motion, then the factors), s_values.npy (float64 [N, V]) and
// s_masks.npy (uint8 [N, T], 1 = observed) where the set has them, previews
// s_preview.png and s_preview.gif, and dataset.json describing it all.
func ExportDataset(dir string, ds *Dataset, opt ExportOptions) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	desc := map[string]any{
		"name": ds.Name, "model_scale": ds.Scale.String(), "pixel_range": []float64{0, 1},
		"motions": ds.Motions, "factors": ds.Factors, "values": ds.Values, "info": ds.Info,
	}
	splits := map[string]any{}
	for _, ns := range ds.Splits() {
		var (
			entry map[string]any
			err   error
		)
		if opt.SpritesLayout {
			entry, err = exportSpritesLayout(dir, ns, opt)
		} else {
			entry, err = exportSplit(dir, ds, ns, opt)
		}
		if err != nil {
			return err
		}
		if opt.Preview > 0 {
			files, err := writePreviews(dir, ds, ns, opt.Preview)
			if err != nil {
				return err
			}
			entry["previews"] = files
		}
		splits[ns.Name] = entry
	}
	desc["splits"] = splits
	return writeAtomic(filepath.Join(dir, "dataset.json"), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(desc)
	})
}

func exportSplit(dir string, ds *Dataset, ns NamedSplit, opt ExportOptions) (map[string]any, error) {
	s := ns.Split
	n := s.Len()
	if opt.Limit > 0 {
		n = min(n, opt.Limit)
	}
	d := s.Dims()
	files := map[string]string{"frames": ns.Name + "_frames.npy", "labels": ns.Name + "_labels.npy"}
	w, err := tensor.CreateNPY(filepath.Join(dir, files["frames"]), tensor.Float32, n, d.T, d.C, d.H, d.W)
	if err != nil {
		return nil, err
	}
	buf := make([]float32, d.Len())
	nf, nv := len(ds.Factors), len(ds.Values)
	labels := make([]int64, n*(1+nf))
	values := make([]float64, n*nv)
	var masks []uint8
	for i := 0; i < n; i++ {
		if err := s.Read(i, buf); err != nil {
			w.Abort()
			return nil, err
		}
		if err := w.Write(buf); err != nil {
			w.Abort()
			return nil, err
		}
		l := s.Label(i)
		if len(l.Factors) != nf || len(l.Values) != nv {
			w.Abort()
			panic(fmt.Sprintf("halo: ExportDataset: sequence %d has %d factors and %d values, the set names %d and %d", i, len(l.Factors), len(l.Values), nf, nv))
		}
		labels[i*(1+nf)] = int64(l.Motion)
		for k, f := range l.Factors {
			labels[i*(1+nf)+1+k] = int64(f)
		}
		copy(values[i*nv:], l.Values)
		if l.Mask != nil {
			if masks == nil {
				masks = make([]uint8, n*d.T)
				for k := range masks {
					masks[k] = 1
				}
			}
			for t, o := range l.Mask {
				if !o {
					masks[i*d.T+t] = 0
				}
			}
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if err := tensor.WriteNPY(filepath.Join(dir, files["labels"]), tensor.NewArray(labels, n, 1+nf)); err != nil {
		return nil, err
	}
	if nv > 0 {
		files["values"] = ns.Name + "_values.npy"
		if err := tensor.WriteNPY(filepath.Join(dir, files["values"]), tensor.NewArray(values, n, nv)); err != nil {
			return nil, err
		}
	}
	if masks != nil {
		files["masks"] = ns.Name + "_masks.npy"
		if err := tensor.WriteNPY(filepath.Join(dir, files["masks"]), tensor.NewArray(masks, n, d.T)); err != nil {
			return nil, err
		}
	}
	return map[string]any{"sequences": n, "shape": []int{n, d.T, d.C, d.H, d.W}, "layout": "NTCHW", "files": files}, nil
}

func exportSpritesLayout(dir string, ns NamedSplit, opt ExportOptions) (map[string]any, error) {
	ps, ok := ns.Split.(*pspritesSplit)
	if !ok {
		panic("halo: ExportDataset: SpritesLayout needs a psprites split")
	}
	chars := ps.chars
	if opt.Limit > 0 {
		chars = chars[:min(len(chars), opt.Limit)]
	}
	if err := WritePSpritesNPY(dir, ns.Name, chars); err != nil {
		return nil, err
	}
	return map[string]any{
		"characters": len(chars), "sequences": 9 * len(chars), "character_codes": chars,
		"layout": "PROTOCOLS.md section 3.1: {action}_{direction}_{frames|attributes|directions|motion}_" + ns.Name + ".npy, frames float32 [N, 8, 64, 64, 3] = uint8/255",
	}, nil
}

// writePreviews draws the first n sequences of a split (for psprites, one
// per motion of the first character, then further characters).
func writePreviews(dir string, ds *Dataset, ns NamedSplit, n int) ([]string, error) {
	s := ns.Split
	idx := make([]int, 0, n)
	if ps, ok := s.(*pspritesSplit); ok {
		for k := 0; len(idx) < n && k < s.Len(); k++ {
			idx = append(idx, (k%9)*len(ps.chars)+k/9)
		}
	} else {
		for i := 0; i < min(n, s.Len()); i++ {
			idx = append(idx, i)
		}
	}
	d := s.Dims()
	seqs := make([][]float32, len(idx))
	labels := make([]string, len(idx))
	for k, i := range idx {
		seqs[k] = make([]float32, d.Len())
		if err := s.Read(i, seqs[k]); err != nil {
			return nil, err
		}
		l := s.Label(i)
		var parts []string
		if len(ds.Motions) > 1 {
			parts = append(parts, ds.Motions[l.Motion])
		}
		for f, v := range l.Factors {
			if f < 4 && f < len(ds.Factors) {
				parts = append(parts, fmt.Sprintf("%s=%d", ds.Factors[f], v))
			}
		}
		labels[k] = strings.Join(parts, " ")
	}
	zoom := max(1, 64/d.H)
	png := ns.Name + "_preview.png"
	gif := ns.Name + "_preview.gif"
	if err := WriteGridPNG(filepath.Join(dir, png), seqs, d, GridOptions{Zoom: zoom, RowLabels: labels}); err != nil {
		return nil, err
	}
	if err := WriteGIF(filepath.Join(dir, gif), seqs, d, GridOptions{Zoom: zoom, Columns: 4}, 12); err != nil {
		return nil, err
	}
	return []string{png, gif}, nil
}

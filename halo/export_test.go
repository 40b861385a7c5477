package halo

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/halo-ml/halo/tensor"
)

func TestExportDataset(t *testing.T) {
	dir := t.TempDir()
	masked := &countingSplit{n: 7, failAt: -1, masks: true}
	ds := &Dataset{
		Name: "toy", Motions: []string{"a", "b", "c"},
		Train: masked, Test: GenerateBalls(BallsConfig{N: 4, Seed: 9}),
	}
	// First a set without factors or values, then one with both.
	if err := ExportDataset(dir, &Dataset{Name: "toy", Motions: ds.Motions, Train: ds.Train}, ExportOptions{Limit: 5, Preview: 3}); err != nil {
		t.Fatal(err)
	}
	fr, err := tensor.ReadNPY(filepath.Join(dir, "train_frames.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if tensor.ShapeString(fr.Shape) != "[5 4 1 2 3]" {
		t.Fatalf("frames shape %v", fr.Shape)
	}
	x := make([]float32, masked.Dims().Len())
	for i := 0; i < 5; i++ {
		masked.Read(i, x)
		for k, v := range x {
			if fr.Data.([]float32)[i*len(x)+k] != v {
				t.Fatalf("sequence %d differs in the file", i)
			}
		}
	}
	lab, _ := tensor.ReadNPY(filepath.Join(dir, "train_labels.npy"))
	if tensor.ShapeString(lab.Shape) != "[5 1]" || lab.Data.([]int64)[4] != 1 {
		t.Fatalf("labels %v %v", lab.Shape, lab.Data)
	}
	m, _ := tensor.ReadNPY(filepath.Join(dir, "train_masks.npy"))
	if got := m.Data.([]uint8)[4:8]; got[0] != 1 || got[1] != 0 || got[3] != 0 {
		t.Fatalf("mask of sequence 1: %v", got)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "dataset.json"))
	if err != nil {
		t.Fatal(err)
	}
	var desc struct {
		Name   string
		Splits map[string]struct {
			Sequences int
			Files     map[string]string
			Previews  []string
		}
	}
	if err := json.Unmarshal(raw, &desc); err != nil {
		t.Fatal(err)
	}
	tr := desc.Splits["train"]
	if desc.Name != "toy" || tr.Sequences != 5 || tr.Files["masks"] != "train_masks.npy" || len(tr.Previews) != 2 {
		t.Fatalf("description %+v", desc)
	}
	for _, p := range tr.Previews {
		if st, err := os.Stat(filepath.Join(dir, p)); err != nil || st.Size() == 0 {
			t.Fatalf("preview %s: %v", p, err)
		}
	}

	// Balls with factor and value names: values.npy holds the start angles.
	bdir := filepath.Join(dir, "balls")
	b := &Dataset{Name: "balls", Factors: []string{"colour", "orbit_radius"}, Values: []string{"theta0"}, Test: ds.Test}
	if err := ExportDataset(bdir, b, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	v, err := tensor.ReadNPY(filepath.Join(bdir, "test_values.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if v.Data.([]float64)[2] != ds.Test.Label(2).Values[0] {
		t.Fatalf("values %v", v.Data)
	}
	l, _ := tensor.ReadNPY(filepath.Join(bdir, "test_labels.npy"))
	if tensor.ShapeString(l.Shape) != "[4 3]" || l.Data.([]int64)[3*1+2] != 9 {
		t.Fatalf("balls labels %v %v", l.Shape, l.Data)
	}
}

package halo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPresetsValidate(t *testing.T) {
	for _, name := range Presets() {
		c, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("preset %s: %v", name, err)
		}
		if c.Preset != name {
			t.Errorf("preset %s names itself %q", name, c.Preset)
		}
	}
	if err := DemoConfig().Validate(); err != nil {
		t.Errorf("demo config: %v", err)
	}
	if _, err := Preset("nope"); err == nil {
		t.Error("unknown preset accepted")
	}
	s, _ := Preset("sprites")
	if s.D != 6 || s.WithOfficialDims().D != 12 {
		t.Errorf("sprites d %d, official %d; want 6 and 12", s.D, s.WithOfficialDims().D)
	}
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`{"preset": "sprites", "lr": 1e-3, "dynamics": "skew"}`), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if c.LR != 1e-3 || c.Dynamics != "skew" || c.HDim != 2048 {
		t.Fatalf("parsed %+v", c)
	}
	for _, bad := range []struct{ json, want string }{
		{`{"preset": "sprites", "lrr": 1}`, "lrr"},
		{`{"preset": "sprites", "dynamics": "magic"}`, "magic"},
		{`{"preset": "sprites", "z_dim": 3}`, "z_dim"},
		{`{"preset": "balls", "frames": 1}`, "frames"},
		{`[1, 2]`, "JSON"},
		{`{"preset": "mnist", "family": "small"}`, "family small"},
	} {
		if _, err := ParseConfig([]byte(bad.json), Config{}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v, want one mentioning %q", bad.json, err, bad.want)
		}
	}
	var c2 Config
	c2, _ = Preset("balls")
	if err := c2.Set("lr", "0.01"); err != nil || c2.LR != 0.01 {
		t.Fatalf("Set lr: %v, %g", err, c2.LR)
	}
	if err := c2.Set("dynamics", "rnn"); err != nil || c2.Dynamics != "rnn" {
		t.Fatalf("Set dynamics: %v, %q", err, c2.Dynamics)
	}
	// Fields left out of the JSON when zero can be set too.
	if err := c2.Set("no_output_bn", "true"); err != nil || !c2.NoOutputBN {
		t.Fatalf("Set no_output_bn: %v, %v", err, c2.NoOutputBN)
	}
	if err := c2.Set("operator_init", "elliptic"); err != nil || c2.OperatorInit != "elliptic" {
		t.Fatalf("Set operator_init: %v, %q", err, c2.OperatorInit)
	}
	if err := c2.Set("lr", "fast"); err == nil {
		t.Fatal("Set lr=fast accepted")
	}
	if err := c2.Set("nope", "1"); err == nil {
		t.Fatal("Set of an unknown field accepted")
	}
}

// A checkpoint file that is cut short or is not a checkpoint is refused
// with an error naming the file.
func TestLoadCheckpointRejectsBadFiles(t *testing.T) {
	c := tinyTrainConfig(t)
	tr, err := NewTrainer(c, tinyBalls(c.T))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ck, _ := tr.Checkpoint()
	path := filepath.Join(dir, CheckpointFile)
	if err := SaveCheckpoint(path, ck); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	cut := filepath.Join(dir, "cut.safetensors")
	os.WriteFile(cut, raw[:len(raw)/2], 0o644)
	if _, err := LoadCheckpoint(cut); err == nil || !strings.Contains(err.Error(), "cut.safetensors") {
		t.Errorf("truncated checkpoint: %v", err)
	}
	weights := filepath.Join(dir, "w.safetensors")
	if err := SaveWeights(weights, tr.Model); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCheckpoint(weights); err == nil || !strings.Contains(err.Error(), "not a halo checkpoint") {
		t.Errorf("weights file as checkpoint: %v", err)
	}
	// The weights file loads into a model of the same config, and not into
	// another.
	m, _ := NewModel(c, newTestRand())
	if err := LoadWeights(weights, m); err != nil {
		t.Fatal(err)
	}
	other := c
	other.HDim++
	m2, _ := NewModel(other, newTestRand())
	if err := LoadWeights(weights, m2); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Errorf("weights into a model of another shape: %v", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"preset": "sprites", "lr": 1e-3}`))
	f.Add([]byte(`{"preset": "balls", "family": "mlp", "conv_channels": []}`))
	f.Add([]byte(`{"frames": -1}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := ParseConfig(raw, Config{})
		if err == nil {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("ParseConfig accepted a config that Validate refuses: %v", verr)
			}
		}
	})
}

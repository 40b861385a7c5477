package halo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// Config is everything that defines a HALO model and its training run. The
// presets carry the paper's settings (PROTOCOLS.md section 6); a JSON file
// can override any field, and the config is saved beside every checkpoint.
type Config struct {
	Preset string `json:"preset"`
	// Data names the data set: balls, balls-multi, rmnist, psprites,
	// sprites (the real .npy files in DataDir) or mug (frames in DataDir).
	Data    string `json:"data"`
	DataDir string `json:"data_dir,omitempty"`

	// PixelScale is the range the model sees pixels on: "[-1,1]" (the
	// official code's 2x-1) or "[0,1]". The decoder ends in BatchNorm and
	// tanh, whose output starts centred on 0: on [0,1] that is the black
	// background of the balls, on [-1,1] mid grey.
	PixelScale string `json:"pixel_scale"`

	// Frame and sequence shape.
	C int `json:"channels_in"`
	H int `json:"height"`
	W int `json:"width"`
	T int `json:"frames"`

	// Family picks the encoder/decoder of the paper's appendix: "conv"
	// (Sprites, MUG), "mnist" (rotating MNIST) or "small" (balls); or "mlp",
	// fully connected networks of our own (two hidden layers of FCHidden
	// units), which learn small frames such as the balls' many times faster
	// than the convolutional ones (the demo's model).
	Family string `json:"family"`
	// Channels are the encoder's convolution widths (decoder mirrors them).
	Channels []int `json:"conv_channels"`
	// FCHidden is the width of the encoder's first linear layer.
	FCHidden int `json:"fc_hidden"`
	// NoOutputBN leaves out the BatchNorm before the decoder's tanh (the
	// paper's decoders have it).
	NoOutputBN bool `json:"no_output_bn,omitempty"`
	HDim       int  `json:"h_dim"`
	// ZDim is the content size (0: no content variable, as rotating MNIST).
	ZDim int `json:"z_dim"`
	// Operators is K, the number of subspaces; D the size of q (and p) in
	// each, so |Q| = |P| = K*D and each operator is 2D x 2D.
	Operators int `json:"operators"`
	D         int `json:"d"`
	// PosHidden is the position network's hidden width; 0 means 2*K*D.
	PosHidden int `json:"pos_hidden"`
	// Conditional: one operator per action, the position network sees the
	// one-hot action and only the action's subspace evolves.
	Conditional bool `json:"conditional"`
	// NormalizeQP scales every subspace's q and p to unit length.
	NormalizeQP bool `json:"normalize_qp"`
	// Dynamics: hamiltonian (Sp), skew (SpO), skew-narrow (the official
	// code's SpO form), linear or rnn (the ablation baselines).
	Dynamics  string `json:"dynamics"`
	TCNKernel int    `json:"tcn_kernel"`
	// OperatorInit starts the operators' parameters: "orthogonal" (the
	// official init: orthogonal with gain sqrt 2, which usually gives some
	// real eigenvalues, so early rollouts grow exponentially) or "elliptic"
	// (M = I plus a small random symmetric part: every operator starts as a
	// rotation of each (q_i, p_i) pair by about one radian per frame, a
	// bounded orbit). Only the Hamiltonian dynamics use it.
	OperatorInit string `json:"operator_init,omitempty"`
	// Init is "orthogonal" (the official code's weights_init) or "default"
	// (PyTorch's layer defaults).
	Init string `json:"init"`
	// LogVarBias, when not zero, starts the biases of the log-variance heads
	// (z, q, p) at this value instead of the init's: a small initial
	// posterior variance lets the decoder see informative latents from the
	// first step, where unit noise on a unit-normalised q hides the
	// encoder's signal and the model settles on the mean image.
	LogVarBias float64 `json:"logvar_bias,omitempty"`

	// Loss weights (PROTOCOLS.md section 6).
	ReconTerm    float64 `json:"recon_term"`
	BetaZ        float64 `json:"beta_z"`
	BetaV        float64 `json:"beta_v"`
	BetaV1       float64 `json:"beta_v1"`
	BetaT        float64 `json:"beta_t"`
	LossVRecon   bool    `json:"loss_vrecon"`
	TemporalLoss bool    `json:"temporal_loss"`

	// Training.
	LR    float64 `json:"lr"`
	Beta1 float64 `json:"beta1"`
	Beta2 float64 `json:"beta2"`
	// LRDecay multiplies the learning rate every LRDecaySteps steps (a
	// step schedule, as StepLR; 0 steps: constant, as the official code).
	LRDecay      float64 `json:"lr_decay,omitempty"`
	LRDecaySteps int     `json:"lr_decay_steps,omitempty"`
	Batch        int     `json:"batch"`
	TestBatch    int     `json:"test_batch"`
	Epochs       int     `json:"epochs"`
	// MaxSteps stops training after this many steps (0: Epochs decide).
	MaxSteps int    `json:"max_steps"`
	Seed     uint64 `json:"seed"`
	// CheckpointEvery writes a checkpoint every so many steps (0: only at
	// the end of each epoch and of the run).
	CheckpointEvery int `json:"checkpoint_every"`
}

// Presets lists the names Preset accepts.
func Presets() []string { return []string{"balls", "mnist", "sprites", "mug"} }

// Preset returns the configuration of a named preset. Sprites follows the
// paper (|Q| = K x 6 = 18) and MNIST the official config's sizes (the
// paper's appendix gives h = 256, |Q| = 20 and the config 64, 64, and the
// published number comes from the code); WithOfficialDims and
// WithPaperDims switch.
func Preset(name string) (Config, error) {
	c := Config{
		Preset: name, PixelScale: "[-1,1]", C: 3, H: 64, W: 64, T: 8, Family: "conv",
		Channels: []int{256, 256, 256, 256, 256}, FCHidden: 4096,
		Dynamics: "hamiltonian", TCNKernel: 4, Init: "orthogonal", NormalizeQP: true,
		ReconTerm: 1, BetaZ: 1, BetaV: 1, BetaV1: 1, BetaT: 0,
		LR: 2e-4, Beta1: 0.5, Beta2: 0.999, Batch: 24, TestBatch: 16,
		Seed: 314159,
	}
	switch name {
	case "sprites":
		c.Data = "psprites"
		c.HDim, c.ZDim, c.Operators, c.D = 2048, 256, 3, 6
		c.LossVRecon = true
		c.Epochs = 800
	case "mug":
		c.Data = "mug"
		c.HDim, c.ZDim, c.Operators, c.D = 2048, 512, 6, 12
		c.Conditional = true
		c.TemporalLoss, c.BetaT = true, 1
		c.Batch, c.Epochs = 16, 1000
	case "mnist":
		c.Data = "rmnist"
		c.C, c.H, c.W, c.T = 1, 28, 28, 16
		c.Family, c.Channels = "mnist", []int{128, 128, 128}
		c.HDim, c.ZDim, c.Operators, c.D = 64, 0, 1, 64
		c.ReconTerm = 10
		c.LR, c.Epochs, c.Seed = 5e-4, 500, 42
	case "balls":
		// PROTOCOLS.md section 1 gives d = 1, but then the decoder sees one
		// number q = r cos(phase), which is the same for a ball at angle a
		// and at -a: no decoder can tell them apart. d = 2 gives q room for
		// the angle's cosine and sine (and unit-norm subspaces make q a point
		// on a circle).
		c.Data = "balls"
		c.PixelScale = "[0,1]"
		c.C, c.H, c.W, c.T = 3, 32, 32, 16
		c.Family, c.Channels, c.FCHidden = "small", []int{32, 64, 128}, 256
		c.HDim, c.ZDim, c.Operators, c.D = 128, 8, 1, 2
		c.PosHidden = 32 // as the reference timing model's balls architecture
		c.Epochs, c.Seed = 200, 1
	default:
		return Config{}, fmt.Errorf("halo: unknown preset %q (have %s)", name, strings.Join(Presets(), ", "))
	}
	return c, nil
}

// WithOfficialDims returns c with the latent sizes of the official configs
// where they differ from the paper: Sprites |Q| = 36 (d = 12).
func (c Config) WithOfficialDims() Config {
	if c.Preset == "sprites" {
		c.D = 12
	}
	return c
}

// WithPaperDims returns c with the paper's sizes where the preset follows
// the official config: rotating MNIST h = 256, |Q| = 20, position width 320.
func (c Config) WithPaperDims() Config {
	if c.Preset == "mnist" {
		c.HDim, c.D, c.PosHidden = 256, 20, 320
	}
	return c
}

// Scale returns the pixel scale of the model's inputs and outputs.
func (c Config) Scale() Scale {
	if c.PixelScale == "[0,1]" {
		return Unit
	}
	return Symmetric
}

// V returns |Q| = K*D.
func (c Config) V() int { return c.Operators * c.D }

// PosWidth returns the position network's hidden width.
func (c Config) PosWidth() int {
	if c.PosHidden > 0 {
		return c.PosHidden
	}
	return 2 * c.V()
}

// Dims returns the sequence shape.
func (c Config) Dims() Dims { return Dims{T: c.T, C: c.C, H: c.H, W: c.W} }

var dynamicsNames = []string{"hamiltonian", "skew", "skew-narrow", "linear", "rnn"}

// Validate reports the first field that cannot work.
func (c Config) Validate() error {
	bad := func(format string, a ...any) error { return fmt.Errorf("halo: config: "+format, a...) }
	switch {
	case c.C < 1 || c.H < 1 || c.W < 1:
		return bad("frame %dx%dx%d", c.C, c.H, c.W)
	case c.T < 2:
		return bad("frames = %d, need at least 2", c.T)
	case c.Operators < 1 || c.D < 1:
		return bad("operators = %d, d = %d: both must be positive", c.Operators, c.D)
	case c.HDim < 1:
		return bad("h_dim = %d", c.HDim)
	case c.ZDim < 0 || c.ZDim%2 != 0:
		return bad("z_dim = %d: must be even and >= 0 (a bidirectional LSTM gives z/2 per direction)", c.ZDim)
	case c.TCNKernel < 1:
		return bad("tcn_kernel = %d", c.TCNKernel)
	case !slices.Contains(dynamicsNames, c.Dynamics):
		return bad("dynamics %q (have %s)", c.Dynamics, strings.Join(dynamicsNames, ", "))
	case c.OperatorInit != "" && c.OperatorInit != "orthogonal" && c.OperatorInit != "elliptic":
		return bad("operator_init %q (have orthogonal, elliptic)", c.OperatorInit)
	case c.Init != "orthogonal" && c.Init != "default":
		return bad("init %q (have orthogonal, default)", c.Init)
	case c.Batch < 1 || c.TestBatch < 1:
		return bad("batch %d, test_batch %d", c.Batch, c.TestBatch)
	case c.LR <= 0 || c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1:
		return bad("lr %g, betas (%g, %g)", c.LR, c.Beta1, c.Beta2)
	case c.LRDecaySteps < 0 || (c.LRDecaySteps > 0 && (c.LRDecay <= 0 || c.LRDecay > 1)):
		return bad("lr_decay %g every %d steps: want a factor in (0, 1]", c.LRDecay, c.LRDecaySteps)
	case c.Epochs < 0 || c.MaxSteps < 0 || c.CheckpointEvery < 0:
		return bad("epochs %d, max_steps %d, checkpoint_every %d", c.Epochs, c.MaxSteps, c.CheckpointEvery)
	case c.Epochs == 0 && c.MaxSteps == 0:
		return bad("neither epochs nor max_steps set")
	}
	if c.PixelScale != "[-1,1]" && c.PixelScale != "[0,1]" {
		return bad("pixel_scale %q (have [-1,1], [0,1])", c.PixelScale)
	}
	if c.NormalizeQP && c.D == 1 {
		return bad("normalize_qp with d = 1 maps q to its sign (zero gradient); set one of them differently")
	}
	if len(c.Channels) == 0 && c.Family != "mlp" {
		return bad("conv_channels empty")
	}
	for _, ch := range c.Channels {
		if ch < 1 {
			return bad("conv_channels %v", c.Channels)
		}
	}
	switch c.Family {
	case "conv":
		if len(c.Channels) != 5 || c.H%8 != 0 || c.W%8 != 0 {
			return bad("family conv needs 5 conv_channels and frames divisible by 8, have %v and %dx%d", c.Channels, c.H, c.W)
		}
	case "mnist":
		if len(c.Channels) != 3 || c.H != 28 || c.W != 28 {
			return bad("family mnist needs 3 conv_channels and 28x28 frames, have %v and %dx%d", c.Channels, c.H, c.W)
		}
	case "small":
		if len(c.Channels) != 3 || c.H != 32 || c.W != 32 {
			return bad("family small needs 3 conv_channels and 32x32 frames, have %v and %dx%d", c.Channels, c.H, c.W)
		}
	case "mlp":
	default:
		return bad("family %q (have conv, mnist, small, mlp)", c.Family)
	}
	if c.FCHidden < 1 {
		return bad("fc_hidden = %d", c.FCHidden)
	}
	return nil
}

// LoadConfig reads a JSON config. With a "preset" field the preset is the
// base and the file's other fields override it; without, the file must be
// complete. Unknown fields are an error (a misspelt field would otherwise
// be ignored silently).
func LoadConfig(path string) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("halo: config: %w", err)
	}
	c, err := ParseConfig(raw, Config{})
	if err != nil {
		return Config{}, fmt.Errorf("halo: config %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes JSON over base (a preset's config when the JSON names
// a preset and base is zero) and validates the result.
func ParseConfig(raw []byte, base Config) (Config, error) {
	var head struct {
		Preset string `json:"preset"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return Config{}, fmt.Errorf("not a JSON object: %w", err)
	}
	c := base
	if head.Preset != "" && head.Preset != base.Preset {
		p, err := Preset(head.Preset)
		if err != nil {
			return Config{}, err
		}
		c = p
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// JSON returns the config as indented JSON.
func (c Config) JSON() []byte {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		panic(err) // a struct of plain fields always marshals
	}
	return append(b, '\n')
}

// Set overrides one field by its JSON name from a string, as the command
// line's -set name=value does.
func (c *Config) Set(name, value string) error {
	kinds := map[string]reflect.Kind{}
	t := reflect.TypeOf(*c)
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		kinds[tag] = t.Field(i).Type.Kind()
	}
	kind, ok := kinds[name]
	if !ok {
		keys := make([]string, 0, len(kinds))
		for k := range kinds {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return fmt.Errorf("halo: config has no field %q (have %s)", name, strings.Join(keys, ", "))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(c.JSON(), &m); err != nil {
		return err
	}
	v := json.RawMessage(value)
	if kind == reflect.String && !strings.HasPrefix(value, `"`) {
		q, _ := json.Marshal(value)
		v = q
	}
	m[name] = v
	raw, _ := json.Marshal(m)
	var n Config
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&n); err != nil {
		return fmt.Errorf("halo: config field %s=%s: %w", name, value, err)
	}
	*c = n
	return nil
}

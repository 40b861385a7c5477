package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/halo-ml/halo/halo"
)

func init() {
	register("data", "write a data set to disk as .npy with a JSON description and previews", runData)
}

// dataSets lists what `halo data -set` accepts.
var dataSets = []struct{ name, about string }{
	{"balls", "rotating balls, 1000 train / 200 test sequences of 16 frames, 32x32 RGB (generated)"},
	{"balls-multi", "rotating balls with orbit radius 6..12 per sequence (generated)"},
	{"rmnist", "rotating MNIST 3s, protocol rmnist-ode2vae, 16 frames 28x28 (MNIST from the GoMNIST module)"},
	{"psprites", "procedural Sprites-like characters, 9000 train / 2664 test, 8 frames 64x64 RGB, written in the real Sprites layout (generated)"},
	{"sprites", "the real Sprites .npy files in -src (converted to NTCHW)"},
	{"mug", "MUG frame folders in -src (licensed data; converted to NTCHW)"},
}

func runData(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("data", flag.ContinueOnError)
	set := fs.String("set", "", "data set to write (see -list)")
	out := fs.String("out", "data", "output folder; the set goes to OUT/SET")
	limit := fs.Int("limit", 0, "at most this many sequences per split (psprites: characters); 0 = all")
	preview := fs.Int("preview", 8, "sequences drawn in each split's PNG and GIF preview; 0 = none")
	mnist := fs.String("mnist", "", "folder with the MNIST idx.gz files (default: $"+halo.MNISTEnv+", else the GoMNIST module in the Go module cache)")
	src := fs.String("src", "", "input folder for -set sprites or mug")
	mugFrames := fs.Int("mug-frames", 8, "frames per MUG clip (16 for the generation scores)")
	list := fs.Bool("list", false, "list the data sets and exit")
	setUsage(fs, "halo data -set NAME [-out DIR] [-limit N] [-preview N] [-mnist DIR] [-src DIR]",
		"Writes each split as .npy files (frames on [0, 1], labels, masks), a dataset.json",
		"describing them, and PNG/GIF previews. The full psprites set is about 4.6 GB of",
		"float32 frames; use -limit for a smaller one.",
	)
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if *list {
		for _, s := range dataSets {
			fmt.Fprintf(stdout, "%-12s %s\n", s.name, s.about)
		}
		return nil
	}
	if *set == "" {
		return errors.New("-set is required (see -list)")
	}
	start := time.Now()
	var (
		ds  *halo.Dataset
		err error
	)
	opt := halo.ExportOptions{Limit: *limit, Preview: *preview}
	needSrc := func() error {
		if *src == "" {
			return fmt.Errorf("-set %s needs -src, the folder holding the data", *set)
		}
		return nil
	}
	switch *set {
	case "balls":
		ds = halo.Balls(false)
	case "balls-multi":
		ds = halo.Balls(true)
	case "rmnist":
		ds, err = halo.RotatingMNIST(*mnist)
	case "psprites":
		ds = halo.PSprites()
		opt.SpritesLayout = true
	case "sprites":
		if err = needSrc(); err == nil {
			ds, err = halo.LoadSpritesDataset(*src)
		}
	case "mug":
		if err = needSrc(); err == nil {
			ds, err = halo.LoadMUG(*src, halo.MUGConfig{Frames: *mugFrames})
		}
	default:
		return fmt.Errorf("unknown data set %q (see -list)", *set)
	}
	if err != nil {
		return err
	}
	defer ds.Close()
	dir := filepath.Join(*out, *set)
	if err := halo.ExportDataset(dir, ds, opt); err != nil {
		return err
	}
	for _, s := range ds.Splits() {
		n := s.Split.Len()
		if *limit > 0 {
			if opt.SpritesLayout {
				n = min(n, 9**limit) // -limit counts characters, each in 9 motions
			} else {
				n = min(n, *limit)
			}
		}
		fmt.Fprintf(stdout, "%s %s: %d sequences of %v\n", ds.Name, s.Name, n, s.Split.Dims())
	}
	fmt.Fprintf(stdout, "wrote %s (dataset.json describes the files) in %.1fs\n", dir, time.Since(start).Seconds())
	return nil
}

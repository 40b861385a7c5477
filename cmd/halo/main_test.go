package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestCLIUsageAndErrors(t *testing.T) {
	if code, out, _ := runCLI("help"); code != 0 || !strings.Contains(out, "info") || !strings.Contains(out, "data") {
		t.Fatalf("halo help: code %d, output %q", code, out)
	}
	if code, _, errOut := runCLI(); code != 2 || !strings.Contains(errOut, "usage") {
		t.Fatalf("halo with no command: code %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runCLI("frobnicate"); code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: code %d, stderr %q", code, errOut)
	}
	for _, cmd := range []string{"info", "data"} {
		code, out, errOut := runCLI(cmd, "-help")
		if code != 0 || !strings.Contains(out, "usage: halo "+cmd) || errOut != "" {
			t.Fatalf("halo %s -help: code %d, stdout %q, stderr %q", cmd, code, out, errOut)
		}
		if code, _, errOut := runCLI(cmd, "-no-such-flag"); code == 0 || !strings.Contains(errOut, "no-such-flag") {
			t.Fatalf("halo %s with a bad flag: code %d, stderr %q", cmd, code, errOut)
		}
	}
}

func TestCLIInfo(t *testing.T) {
	code, out, errOut := runCLI("info")
	if code != 0 || errOut != "" {
		t.Fatalf("halo info: code %d, stderr %q", code, errOut)
	}
	// The backend line names whatever HALO_BACKEND=auto chose: the CPU here,
	// a Vulkan device where one is present.
	for _, want := range []string{"cpu kernels:", "sgemm tile:", "backend:     "} {
		if !strings.Contains(out, want) {
			t.Fatalf("halo info output lacks %q:\n%s", want, out)
		}
	}
}

func TestCLIDataBalls(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI("data", "-set", "balls", "-limit", "4", "-preview", "2", "-out", dir)
	if code != 0 {
		t.Fatalf("halo data: code %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "balls", "dataset.json")); err != nil {
		t.Fatalf("halo data wrote no dataset.json (stdout %q): %v", out, err)
	}
	if code, _, errOut := runCLI("data", "-set", "no-such-set", "-out", dir); code == 0 || !strings.Contains(errOut, "no-such-set") {
		t.Fatalf("halo data with an unknown set: code %d, stderr %q", code, errOut)
	}
}

// A tiny balls run through the command line: train, refuse to overwrite,
// resume, then every command that reads a run, and the errors they give.
func TestCLIRun(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	small := []string{"-set", "family=mlp", "-set", "fc_hidden=16", "-set", "h_dim=8", "-set", "batch=4",
		"-set", "test_batch=8", "-set", "epochs=0", "-eval=false", "-quiet"}
	code, out, errOut := runCLI(append([]string{"train", "-preset", "balls", "-out", run, "-steps", "3"}, small...)...)
	if code != 0 {
		t.Fatalf("halo train: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(run, "checkpoint.safetensors")); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(append([]string{"train", "-preset", "balls", "-out", run, "-steps", "3"}, small...)...); code == 0 || !strings.Contains(errOut, "-resume") {
		t.Fatalf("train over an existing run: code %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runCLI("train", "-preset", "mnist", "-out", run, "-resume"); code == 0 || !strings.Contains(errOut, `preset "balls"`) {
		t.Fatalf("resume with the wrong preset: code %d, stderr %q", code, errOut)
	}
	if code, out, errOut := runCLI("train", "-out", run, "-resume", "-steps", "5", "-eval=false", "-quiet"); code != 0 || !strings.Contains(out, "at step 3") {
		t.Fatalf("resume: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, _, errOut := runCLI("train", "-set", "no_such_field=1", "-out", filepath.Join(dir, "x")); code == 0 || !strings.Contains(errOut, "no_such_field") {
		t.Fatalf("unknown config field: code %d, stderr %q", code, errOut)
	}
	gen := filepath.Join(dir, "gen")
	if code, out, errOut := runCLI("generate", "-run", run, "-seqs", "0,1", "-frames", "8", "-out", gen); code != 0 {
		t.Fatalf("generate: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, f := range []string{"generated.gif", "generated.png", "generated.npy"} {
		if _, err := os.Stat(filepath.Join(gen, f)); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, errOut := runCLI("swap", "-run", run, "-a", "0", "-b", "1", "-out", filepath.Join(dir, "swap")); code != 0 {
		t.Fatalf("swap: code %d, stderr %q", code, errOut)
	}
	if code, out, errOut := runCLI("energy", "-run", run, "-frames", "20", "-out", filepath.Join(dir, "energy")); code != 0 || !strings.Contains(out, "relative drift") {
		t.Fatalf("energy: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, out, errOut := runCLI("eval", "-run", run, "-limit", "4"); code != 0 || !strings.Contains(out, "SSIM") {
		t.Fatalf("eval: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, _, errOut := runCLI("generate", "-run", run, "-preset", "mnist"); code == 0 || !strings.Contains(errOut, `not "mnist"`) {
		t.Fatalf("generate with the wrong preset: code %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runCLI("generate", "-run", run, "-seqs", "0,9999"); code == 0 || !strings.Contains(errOut, "9999") {
		t.Fatalf("generate past the split: code %d, stderr %q", code, errOut)
	}
	missing := filepath.Join(dir, "nothing-here")
	if code, _, errOut := runCLI("eval", "-run", missing); code == 0 || !strings.Contains(errOut, "nothing-here") {
		t.Fatalf("eval of a missing run: code %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runCLI("swap"); code == 0 || !strings.Contains(errOut, "-run is required") {
		t.Fatalf("swap without -run: code %d, stderr %q", code, errOut)
	}
	for _, cmd := range []string{"train", "eval", "generate", "swap", "energy", "demo"} {
		if code, out, _ := runCLI(cmd, "-help"); code != 0 || !strings.Contains(out, "usage: halo "+cmd) {
			t.Fatalf("halo %s -help: code %d, stdout %q", cmd, code, out)
		}
	}
}

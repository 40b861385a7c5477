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
	for _, want := range []string{"cpu kernels:", "sgemm tile:", "backend:     cpu"} {
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

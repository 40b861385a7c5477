//go:build ignore

// Gen compiles the GLSL compute shaders into the SPIR-V that package vk
// embeds: one glslc run per variant in the table below. Run it through
// `go generate ./vk`; the output is committed and CI checks that
// regenerating it changes nothing.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

type variant struct {
	out, src string
	defs     []string
}

var variants = []variant{
	{"map", "map.comp", nil},
	{"map_backward", "map.comp", []string{"BACKWARD"}},
	{"binary", "binary.comp", nil},
	{"reduce_thread", "reduce.comp", nil},
	{"reduce_group", "reduce.comp", []string{"PER_GROUP"}},
	{"im2col", "im2col.comp", []string{"IM2COL"}},
	{"col2im", "im2col.comp", []string{"COL2IM"}},
	{"adam", "adam.comp", nil},
	{"copy", "copy.comp", nil},
	{"batchnorm_stats", "batchnorm.comp", []string{"STATS"}},
	{"batchnorm_apply", "batchnorm.comp", []string{"APPLY"}},
	{"batchnorm_bstats", "batchnorm.comp", []string{"BSTATS"}},
	{"batchnorm_bapply", "batchnorm.comp", []string{"BAPPLY"}},
}

func init() {
	for _, vec := range []bool{false, true} {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				name := "gemm_" + map[bool]string{false: "n", true: "t"}[ta] + map[bool]string{false: "n", true: "t"}[tb]
				var defs []string
				if ta {
					defs = append(defs, "TRANS_A")
				}
				if tb {
					defs = append(defs, "TRANS_B")
				}
				if vec {
					name += "_vec4"
					defs = append(defs, "VEC4")
				}
				variants = append(variants, variant{name, "gemm.comp", defs})
			}
		}
	}
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "vk/shaders/gen:", err)
		os.Exit(1)
	}
}

func run() error {
	glslc, err := exec.LookPath("glslc")
	if err != nil {
		return fmt.Errorf("glslc not found (Debian: apt-get install glslc): %w", err)
	}
	if err := os.MkdirAll("spv", 0o755); err != nil {
		return err
	}
	for _, v := range variants {
		args := []string{"-O", "--target-env=vulkan1.0", "-fshader-stage=compute", "-I", "shaders"}
		for _, d := range v.defs {
			args = append(args, "-D"+d)
		}
		out := filepath.Join("spv", v.out+".spv")
		args = append(args, "-o", out+".tmp", filepath.Join("shaders", v.src))
		cmd := exec.Command(glslc, args...)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("glslc %s: %w", strings.Join(args, " "), err)
		}
		if err := os.Rename(out+".tmp", out); err != nil {
			return err
		}
	}
	return nil
}

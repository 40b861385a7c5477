//go:build amd64 && !purego

package asm

const hasAsm = true

package asm

//go:generate go run ./_gen sgemm512_amd64.s

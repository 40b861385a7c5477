package asm

//go:generate go run ./_gen sgemm512_amd64.s
//go:generate go run ./_genconv conv512_amd64.s

package vk

//go:generate go run shaders/gen.go

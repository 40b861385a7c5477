//go:build cgo

package main

// The Vulkan backend registers itself as "vulkan"; HALO_BACKEND=vulkan
// selects it and "auto" tries it before the CPU.
import _ "github.com/halo-ml/halo/vk"

//go:build cgo && linux

package vk

import vkb "github.com/vulkan-go/vulkan"

// validationBaseline is the count of deliberate validation errors made by
// TestValidationLayerIsLive; other tests compare against it.
var validationBaseline int64

func (b *Backend) badFillForTest(x *Buffer) {
	s := b.begin()
	vkb.CmdFillBuffer(s.cmd, x.blk.buf, vkb.DeviceSize(x.off), 3, 0)
	s.commands++
	s.keep = append(s.keep, x)
}

package vk

import "fmt"

// DeviceInfo describes one Vulkan physical device.
type DeviceInfo struct {
	Index int
	Name  string
	Type  string // "discrete", "integrated", "virtual", "cpu" or "other"
	API   string // Vulkan version the driver offers
	UUID  string // hex, empty on Vulkan 1.0 devices
}

func (d DeviceInfo) String() string {
	return fmt.Sprintf("%d: %s (%s, Vulkan %s)", d.Index, d.Name, d.Type, d.API)
}

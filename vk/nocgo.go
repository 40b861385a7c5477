//go:build !cgo || !linux

package vk

import "errors"

// Devices says why there are none: the backend needs cgo on Linux.
func Devices() ([]DeviceInfo, error) {
	return nil, errors.New("vk: built without cgo (or not on Linux): the Vulkan backend is not included")
}

// Package vk is a Vulkan compute backend for package tensor: GEMM,
// im2col/col2im, elementwise, broadcast, reduction, batch-norm and Adam
// kernels as SPIR-V compute shaders, behind tensor.Backend. Importing the
// package for its side effect registers the backend as "vulkan":
//
//	import _ "github.com/halo-ml/halo/vk"
//
// It needs cgo and, at run time only, the Vulkan loader libvulkan.so.1 and
// a device; without them Open returns an error that says which is missing,
// and tensor.Open("auto") falls back to the CPU. Without cgo (or off
// Linux) the package registers nothing and Devices says why.
//
// Device choice: HALO_VK_DEVICE selects a device by index or by a part of
// its name (case-insensitive); otherwise the first discrete GPU, then the
// first integrated one; devices listed twice (same UUID) count once. CPU
// implementations such as lavapipe are used only when named. HALO_VK_VALIDATE=1 enables the Khronos validation layer and
// counts the errors it reports (ValidationErrors).
//
// Buffers live in device memory, sub-allocated from large blocks and
// returned to the pool by Free or when the garbage collector frees them. Kernels are
// recorded into a command buffer and submitted when the host needs a
// result (Download, Sync) or the batch grows long; Record captures a
// sequence of kernels once so that it can be replayed without recording.
//
// A tensor.Tape on this backend keeps its tensors resident here: weights,
// activations, gradients and (with layers.Adam's Backend set) the
// optimiser's moments live in device buffers, and the host reads back the
// loss and what it asks for (Tensor.Data). The backend is a tensor.Copier,
// so shape ops run on the device too. Transfers counts the bytes that
// cross. Kernels also accept tensor.HostBuffer operands, copied to the
// device and outputs back around the kernel, for callers that hold host
// slices.
package vk

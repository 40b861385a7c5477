//go:build !(linux && (amd64 || arm64))

package tensor

// currentCPU returns -1: the CPU is not known on this system.
func currentCPU() int32 { return -1 }

// leaveCPU does nothing where the CPU is not known.
func leaveCPU(int32) {}

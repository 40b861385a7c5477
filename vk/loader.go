//go:build cgo && linux

package vk

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>

// Only the few declarations the hot path and the loader need, written out
// here so that no Vulkan headers are required to build.
typedef void (*hvkVoidFn)(void);
typedef hvkVoidFn (*hvkGetInstanceProcAddr)(void* instance, const char* name);
typedef hvkVoidFn (*hvkGetDeviceProcAddr)(void* device, const char* name);

typedef struct {
	uint32_t sType; // VK_STRUCTURE_TYPE_MEMORY_BARRIER = 46
	const void* pNext;
	uint32_t srcAccessMask;
	uint32_t dstAccessMask;
} hvkMemoryBarrier;

typedef void (*hvkCmdBindPipeline)(void*, uint32_t, uint64_t);
typedef void (*hvkCmdBindDescriptorSets)(void*, uint32_t, uint64_t, uint32_t, uint32_t, const uint64_t*, uint32_t, const uint32_t*);
typedef void (*hvkCmdPushConstants)(void*, uint64_t, uint32_t, uint32_t, uint32_t, const void*);
typedef void (*hvkCmdDispatch)(void*, uint32_t, uint32_t, uint32_t);
typedef void (*hvkCmdPipelineBarrier)(void*, uint32_t, uint32_t, uint32_t, uint32_t, const hvkMemoryBarrier*, uint32_t, const void*, uint32_t, const void*);

static void* hvkLib;
static hvkGetInstanceProcAddr hvkGIPA;
static hvkCmdBindPipeline hvkBindPipeline;
static hvkCmdBindDescriptorSets hvkBindSets;
static hvkCmdPushConstants hvkPush;
static hvkCmdDispatch hvkDispatchFn;
static hvkCmdPipelineBarrier hvkBarrierFn;

// The calls that take arrays of structs are made here rather than through
// the binding: its array arguments live in C memory that a Go finalizer
// frees at the next garbage collection after the conversion, which can
// come before or during the call and hand the driver freed memory (seen as
// random flags in vkCreateComputePipelines under the validation layer).
typedef struct {
	uint32_t sType; // VK_STRUCTURE_TYPE_SUBMIT_INFO = 4
	const void* pNext;
	uint32_t waitSemaphoreCount;
	const uint64_t* pWaitSemaphores;
	const uint32_t* pWaitDstStageMask;
	uint32_t commandBufferCount;
	void* const* pCommandBuffers;
	uint32_t signalSemaphoreCount;
	const uint64_t* pSignalSemaphores;
} hvkSubmitInfo;

typedef struct {
	uint64_t srcOffset, dstOffset, size;
} hvkBufferCopy;

typedef struct {
	uint64_t buffer, offset, range;
} hvkBufferInfo;

typedef struct {
	uint32_t sType; // VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET = 35
	const void* pNext;
	uint64_t dstSet;
	uint32_t dstBinding;
	uint32_t dstArrayElement;
	uint32_t descriptorCount;
	uint32_t descriptorType; // VK_DESCRIPTOR_TYPE_STORAGE_BUFFER = 7
	const void* pImageInfo;
	const hvkBufferInfo* pBufferInfo;
	const void* pTexelBufferView;
} hvkWriteSet;

typedef struct {
	uint32_t constantID;
	uint32_t offset;
	size_t size;
} hvkSpecEntry;

typedef struct {
	uint32_t mapEntryCount;
	const hvkSpecEntry* pMapEntries;
	size_t dataSize;
	const void* pData;
} hvkSpecInfo;

typedef struct {
	uint32_t sType; // VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO = 18
	const void* pNext;
	uint32_t flags;
	uint32_t stage; // VK_SHADER_STAGE_COMPUTE_BIT = 0x20
	uint64_t module;
	const char* pName;
	const hvkSpecInfo* pSpecializationInfo;
} hvkStageInfo;

typedef struct {
	uint32_t sType; // VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO = 29
	const void* pNext;
	uint32_t flags;
	hvkStageInfo stage;
	uint64_t layout;
	uint64_t basePipelineHandle;
	int32_t basePipelineIndex;
} hvkComputeInfo;

typedef int32_t (*hvkQueueSubmitFn)(void*, uint32_t, const hvkSubmitInfo*, uint64_t);
typedef void (*hvkCmdCopyBufferFn)(void*, uint64_t, uint64_t, uint32_t, const hvkBufferCopy*);
typedef void (*hvkUpdateSetsFn)(void*, uint32_t, const hvkWriteSet*, uint32_t, const void*);
typedef int32_t (*hvkCreateComputeFn)(void*, uint64_t, uint32_t, const hvkComputeInfo*, const void*, uint64_t*);

static hvkQueueSubmitFn hvkQueueSubmitPtr;
static hvkCmdCopyBufferFn hvkCopyPtr;
static hvkUpdateSetsFn hvkUpdateSetsPtr;
static hvkCreateComputeFn hvkCreateComputePtr;

// hvkSubmit submits one command buffer, signalling fence when done.
static int32_t hvkSubmit(void* queue, void* cmd, uint64_t fence) {
	hvkSubmitInfo si = {4, NULL, 0, NULL, NULL, 1, &cmd, 0, NULL};
	return hvkQueueSubmitPtr(queue, 1, &si, fence);
}

// hvkCopy records one buffer-to-buffer copy.
static void hvkCopy(void* cmd, uint64_t src, uint64_t dst, uint64_t srcOff, uint64_t dstOff, uint64_t size) {
	hvkBufferCopy r = {srcOff, dstOff, size};
	hvkCopyPtr(cmd, src, dst, 1, &r);
}

#define HVK_MAX_BINDINGS 16
#define HVK_MAX_SPEC 32

// hvkBindBuffers points bindings 0..n-1 of set at the whole of buffers[i].
static int hvkBindBuffers(void* device, uint64_t set, const uint64_t* buffers, uint32_t n) {
	if (n > HVK_MAX_BINDINGS) {
		return 1;
	}
	hvkBufferInfo info[HVK_MAX_BINDINGS];
	hvkWriteSet w[HVK_MAX_BINDINGS];
	for (uint32_t i = 0; i < n; i++) {
		hvkBufferInfo bi = {buffers[i], 0, ~(uint64_t)0};
		info[i] = bi;
		hvkWriteSet ws = {35, NULL, set, i, 0, 1, 7, NULL, &info[i], NULL};
		w[i] = ws;
	}
	hvkUpdateSetsPtr(device, n, w, 0, NULL);
	return 0;
}

// hvkCreatePipeline makes a compute pipeline from module's "main" with
// nspec 32-bit specialization constants (IDs 0..nspec-1).
static int32_t hvkCreatePipeline(void* device, uint64_t module, uint64_t layout,
		const uint32_t* spec, uint32_t nspec, uint64_t* out) {
	if (nspec > HVK_MAX_SPEC) {
		return -13; // VK_ERROR_UNKNOWN
	}
	uint32_t data[HVK_MAX_SPEC];
	hvkSpecEntry entries[HVK_MAX_SPEC];
	for (uint32_t i = 0; i < nspec; i++) {
		data[i] = spec[i];
		hvkSpecEntry e = {i, 4 * i, 4};
		entries[i] = e;
	}
	hvkSpecInfo si = {nspec, entries, 4 * (size_t)nspec, data};
	hvkComputeInfo ci = {29, NULL, 0, {18, NULL, 0, 0x20, module, "main", nspec > 0 ? &si : NULL}, layout, 0, -1};
	return hvkCreateComputePtr(device, 0, 1, &ci, NULL, out);
}

// hvkOpen loads the Vulkan loader library; 0 on success. A failure
// leaves an earlier successful load in place.
static int hvkOpen(const char* name) {
	void* lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		return 1;
	}
	hvkGetInstanceProcAddr gipa = (hvkGetInstanceProcAddr)dlsym(lib, "vkGetInstanceProcAddr");
	if (gipa == NULL) {
		dlclose(lib);
		return 2;
	}
	hvkLib = lib;
	hvkGIPA = gipa;
	return 0;
}

static const char* hvkDlerror(void) {
	const char* e = dlerror();
	return e ? e : "unknown error";
}

static void* hvkGIPAPtr(void) { return (void*)hvkGIPA; }

// hvkLoadDevice fetches the command-recording entry points of device; 0 on success.
static int hvkLoadDevice(void* instance, void* device) {
	hvkGetDeviceProcAddr gdpa = (hvkGetDeviceProcAddr)hvkGIPA(instance, "vkGetDeviceProcAddr");
	if (gdpa == NULL) {
		return 1;
	}
	hvkBindPipeline = (hvkCmdBindPipeline)gdpa(device, "vkCmdBindPipeline");
	hvkBindSets = (hvkCmdBindDescriptorSets)gdpa(device, "vkCmdBindDescriptorSets");
	hvkPush = (hvkCmdPushConstants)gdpa(device, "vkCmdPushConstants");
	hvkDispatchFn = (hvkCmdDispatch)gdpa(device, "vkCmdDispatch");
	hvkBarrierFn = (hvkCmdPipelineBarrier)gdpa(device, "vkCmdPipelineBarrier");
	hvkQueueSubmitPtr = (hvkQueueSubmitFn)gdpa(device, "vkQueueSubmit");
	hvkCopyPtr = (hvkCmdCopyBufferFn)gdpa(device, "vkCmdCopyBuffer");
	hvkUpdateSetsPtr = (hvkUpdateSetsFn)gdpa(device, "vkUpdateDescriptorSets");
	hvkCreateComputePtr = (hvkCreateComputeFn)gdpa(device, "vkCreateComputePipelines");
	if (!hvkBindPipeline || !hvkBindSets || !hvkPush || !hvkDispatchFn || !hvkBarrierFn ||
			!hvkQueueSubmitPtr || !hvkCopyPtr || !hvkUpdateSetsPtr || !hvkCreateComputePtr) {
		return 2;
	}
	return 0;
}

// hvkBarrier makes all earlier compute and transfer writes visible to later
// compute and transfer commands and to the host.
static void hvkBarrier(void* cmd) {
	hvkMemoryBarrier b = {46, NULL, 0x40 | 0x1000, 0x20 | 0x40 | 0x800 | 0x1000 | 0x2000};
	hvkBarrierFn(cmd, 0x800 | 0x1000, 0x800 | 0x1000 | 0x4000, 0, 1, &b, 0, NULL, 0, NULL);
}

// hvkDispatch records one kernel and the barrier after it: one cgo call
// instead of five through the binding.
static void hvkDispatch(void* cmd, uint64_t pipeline, uint64_t layout, uint64_t set,
		const void* push, uint32_t pushSize, uint32_t x, uint32_t y, uint32_t z) {
	hvkBindPipeline(cmd, 1, pipeline);
	hvkBindSets(cmd, 1, layout, 0, 1, &set, 0, NULL);
	if (pushSize > 0) {
		hvkPush(cmd, layout, 0x20, 0, pushSize, push);
	}
	hvkDispatchFn(cmd, x, y, z);
	hvkBarrier(cmd);
}

// Validation messages: counted, and printed to stderr.
typedef struct {
	uint32_t sType;
	const void* pNext;
	uint32_t flags;
	const char* pMessageIdName;
	int32_t messageIdNumber;
	const char* pMessage;
} hvkDebugData;

typedef struct {
	uint32_t sType; // VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT
	const void* pNext;
	uint32_t flags;
	uint32_t messageSeverity;
	uint32_t messageType;
	void* pfnUserCallback;
	void* pUserData;
} hvkDebugInfo;

typedef int32_t (*hvkCreateMessenger)(void*, const hvkDebugInfo*, const void*, uint64_t*);

static volatile int64_t hvkValidationErrors;

static uint32_t hvkDebugCallback(uint32_t severity, uint32_t types, const hvkDebugData* data, void* user) {
	if (severity & 0x1000) {
		__sync_fetch_and_add(&hvkValidationErrors, 1);
	}
	fprintf(stderr, "vk validation (severity %#x): %s\n", severity, data && data->pMessage ? data->pMessage : "");
	return 0;
}

// hvkInstallMessenger reports validation warnings and errors; 0 on success.
static int hvkInstallMessenger(void* instance) {
	hvkCreateMessenger create = (hvkCreateMessenger)hvkGIPA(instance, "vkCreateDebugUtilsMessengerEXT");
	if (create == NULL) {
		return 1;
	}
	hvkDebugInfo info = {1000128004, NULL, 0, 0x100 | 0x1000, 1 | 2 | 4, (void*)hvkDebugCallback, NULL};
	uint64_t messenger = 0;
	return create(instance, &info, NULL, &messenger) != 0 ? 2 : 0;
}

static int64_t hvkErrors(void) { return hvkValidationErrors; }

// The binding's headers are Vulkan 1.1.88 and wrap no pNext chains, so
// vkGetPhysicalDeviceProperties2 is called here, with the structures laid
// out by hand: VkPhysicalDeviceProperties2 holds VkPhysicalDeviceProperties
// (824 bytes on 64-bit platforms, 8-aligned) after sType and pNext.
typedef struct {
	uint32_t sType; // VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES
	void* pNext;
	uint32_t subgroupSize;
	uint32_t supportedStages;
	uint32_t supportedOperations;
	uint32_t quadOperationsInAllStages;
} hvkSubgroupProps;

typedef struct {
	uint32_t sType; // VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2
	void* pNext;
	uint64_t properties[128]; // room for VkPhysicalDeviceProperties
} hvkProps2;

typedef void (*hvkGetProps2)(void*, hvkProps2*);

typedef struct {
	uint32_t sType; // VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES
	void* pNext;
	uint8_t deviceUUID[16];
	uint8_t driverUUID[16];
	uint8_t deviceLUID[8];
	uint32_t deviceNodeMask;
	uint32_t deviceLUIDValid;
} hvkIDProps;

// hvkProps2 fills the device's subgroup size and UUID; 0 on success, 1
// when the instance lacks vkGetPhysicalDeviceProperties2 (Vulkan 1.0).
static int hvkQueryProps2(void* instance, void* physicalDevice, uint32_t* subgroupSize, uint8_t* uuid) {
	hvkGetProps2 get = (hvkGetProps2)hvkGIPA(instance, "vkGetPhysicalDeviceProperties2");
	if (get == NULL) {
		return 1;
	}
	hvkIDProps id = {1000071004, NULL};
	hvkSubgroupProps sub = {1000094000, &id, 0, 0, 0, 0};
	hvkProps2 p;
	p.sType = 1000059001;
	p.pNext = &sub;
	get(physicalDevice, &p);
	*subgroupSize = sub.subgroupSize;
	for (int i = 0; i < 16; i++) {
		uuid[i] = id.deviceUUID[i];
	}
	return 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"unsafe"

	vkb "github.com/vulkan-go/vulkan"
)

// loaderName is the Vulkan loader's run-time library. The unversioned
// libvulkan.so that the binding opens by default comes only with the
// development package, so the loader is opened here and handed over.
const loaderName = "libvulkan.so.1"

func openLoader(lib string) (unsafe.Pointer, error) {
	name := C.CString(lib)
	defer C.free(unsafe.Pointer(name))
	switch C.hvkOpen(name) {
	case 0:
		return C.hvkGIPAPtr(), nil
	case 1:
		return nil, fmt.Errorf("vk: no Vulkan loader: %s", C.GoString(C.hvkDlerror()))
	}
	return nil, errors.New("vk: no Vulkan loader: " + lib + " has no vkGetInstanceProcAddr")
}

func loadDeviceFns(instance, device unsafe.Pointer) error {
	if rc := C.hvkLoadDevice(instance, device); rc != 0 {
		return fmt.Errorf("vk: device entry points missing (code %d)", int(rc))
	}
	return nil
}

func installMessenger(instance unsafe.Pointer) error {
	if rc := C.hvkInstallMessenger(instance); rc != 0 {
		return fmt.Errorf("vk: cannot install the validation message callback (code %d)", int(rc))
	}
	return nil
}

// gcOff counts the callers of withoutGC.
var gcOff struct {
	sync.Mutex
	n, old int
}

// withoutGC keeps the garbage collector from running until the returned
// function is called. The binding converts some struct arguments (string
// lists, queue and binding descriptions) into C memory that a finalizer
// frees at the next collection, which can come before the C call has read
// it; the set-up calls that take such arguments run with collection off.
// The hot path (submits, copies, descriptor writes, pipeline creation)
// bypasses the binding instead; see the C helpers above.
func withoutGC() (restore func()) {
	gcOff.Lock()
	if gcOff.n == 0 {
		gcOff.old = debug.SetGCPercent(-1) // returns with no collection running
	}
	gcOff.n++
	gcOff.Unlock()
	return func() {
		gcOff.Lock()
		gcOff.n--
		if gcOff.n == 0 {
			debug.SetGCPercent(gcOff.old)
		}
		gcOff.Unlock()
	}
}

// ValidationErrors is the number of errors the Khronos validation layer has
// reported since the process started (0 unless HALO_VK_VALIDATE=1).
func ValidationErrors() int64 { return int64(C.hvkErrors()) }

func cmdDispatch(cmd unsafe.Pointer, pipeline, layout, set uint64, push unsafe.Pointer, pushSize int, x, y, z int) {
	C.hvkDispatch(cmd, C.uint64_t(pipeline), C.uint64_t(layout), C.uint64_t(set), push, C.uint32_t(pushSize),
		C.uint32_t(x), C.uint32_t(y), C.uint32_t(z))
}

func cmdBarrier(cmd unsafe.Pointer) { C.hvkBarrier(cmd) }

// queueSubmit submits the command buffer cmd to queue, signalling fence.
func queueSubmit(queue, cmd unsafe.Pointer, fence uint64) vkb.Result {
	return vkb.Result(C.hvkSubmit(queue, cmd, C.uint64_t(fence)))
}

// cmdCopy records a copy of size bytes from src at srcOff to dst at dstOff.
func cmdCopy(cmd unsafe.Pointer, src, dst uint64, srcOff, dstOff, size int64) {
	C.hvkCopy(cmd, C.uint64_t(src), C.uint64_t(dst), C.uint64_t(srcOff), C.uint64_t(dstOff), C.uint64_t(size))
}

// bindBuffers points bindings 0..len(buffers)-1 of set at whole buffers.
func bindBuffers(device unsafe.Pointer, set uint64, buffers []uint64) error {
	if len(buffers) == 0 {
		return nil
	}
	if C.hvkBindBuffers(device, C.uint64_t(set), (*C.uint64_t)(unsafe.Pointer(&buffers[0])), C.uint32_t(len(buffers))) != 0 {
		return fmt.Errorf("vk: %d bindings in one set, at most %d", len(buffers), C.HVK_MAX_BINDINGS)
	}
	return nil
}

// createPipeline makes a compute pipeline from the entry point "main" of
// module, with the 32-bit specialization constants spec (IDs 0, 1, ...).
func createPipeline(device unsafe.Pointer, module, layout uint64, spec []uint32) (uint64, vkb.Result) {
	if len(spec) > C.HVK_MAX_SPEC {
		return 0, vkb.ErrorInitializationFailed
	}
	var sp *C.uint32_t
	if len(spec) > 0 {
		sp = (*C.uint32_t)(unsafe.Pointer(&spec[0]))
	}
	var out C.uint64_t
	r := C.hvkCreatePipeline(device, C.uint64_t(module), C.uint64_t(layout), sp, C.uint32_t(len(spec)), &out)
	return uint64(out), vkb.Result(r)
}

// props2 returns the subgroup size and device UUID of a Vulkan 1.1
// device, through vkGetPhysicalDeviceProperties2.
func props2(instance, physicalDevice unsafe.Pointer) (subgroup int, uuid [16]byte, ok bool) {
	var sub C.uint32_t
	var id [16]C.uint8_t
	if C.hvkQueryProps2(instance, physicalDevice, &sub, &id[0]) != 0 {
		return 0, uuid, false
	}
	for i := range id {
		uuid[i] = byte(id[i])
	}
	return int(sub), uuid, true
}

// cBytes copies b into C memory, for data the binding passes by pointer
// inside structs (cgo forbids Go pointers there); free it with cFree.
func cBytes(b []byte) unsafe.Pointer { return C.CBytes(b) }

func cFree(p unsafe.Pointer) { C.free(p) }

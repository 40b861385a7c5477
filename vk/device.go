//go:build cgo && linux

package vk

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	vkb "github.com/vulkan-go/vulkan"
)

// Limits are the device limits the kernels are sized from.
type Limits struct {
	MaxWorkgroupInvocations int
	MaxWorkgroupCount       [3]int
	MaxSharedMemory         int
	MaxStorageBufferRange   int
	MaxPushConstants        int
	MaxBoundDescriptorSets  int
	MaxPerStageStorageBufs  int
	SubgroupSize            int // 0 when the device does not say (Vulkan 1.0)
}

func deviceType(t vkb.PhysicalDeviceType) string {
	switch t {
	case vkb.PhysicalDeviceTypeDiscreteGpu:
		return "discrete"
	case vkb.PhysicalDeviceTypeIntegratedGpu:
		return "integrated"
	case vkb.PhysicalDeviceTypeVirtualGpu:
		return "virtual"
	case vkb.PhysicalDeviceTypeCpu:
		return "cpu"
	}
	return "other"
}

func versionString(v uint32) string {
	return fmt.Sprintf("%d.%d.%d", v>>22, (v>>12)&0x3ff, v&0xfff)
}

// cstr returns s with the NUL terminator the binding passes on as is.
func cstr(s string) string { return s + "\x00" }

func vkErr(what string, r vkb.Result) error {
	if r == vkb.Success {
		return nil
	}
	return fmt.Errorf("vk: %s: %w", what, vkb.Error(r))
}

// instance is the process's Vulkan instance; the binding keeps global
// function pointers, so there is one per process.
type instance struct {
	inst     vkb.Instance
	devices  []vkb.PhysicalDevice
	infos    []DeviceInfo
	validate bool
	api      uint32 // the instance's Vulkan version
}

func layerAvailable(name string) bool {
	defer withoutGC()()
	var n uint32
	if vkb.EnumerateInstanceLayerProperties(&n, nil) != vkb.Success || n == 0 {
		return false
	}
	props := make([]vkb.LayerProperties, n)
	if vkb.EnumerateInstanceLayerProperties(&n, props) != vkb.Success {
		return false
	}
	for i := range props[:n] {
		props[i].Deref()
		if vkb.ToString(props[i].LayerName[:]) == name {
			return true
		}
	}
	return false
}

// newInstance loads the loader and creates an instance without any window
// system extension.
func newInstance() (*instance, error) {
	defer withoutGC()()
	gipa, err := openLoader(loaderName)
	if err != nil {
		return nil, err
	}
	vkb.SetGetInstanceProcAddr(gipa)
	if err := vkb.Init(); err != nil {
		return nil, fmt.Errorf("vk: loader %s did not initialise: %w", loaderName, err)
	}
	in := &instance{validate: os.Getenv("HALO_VK_VALIDATE") == "1"}
	var layers, exts []string
	if in.validate {
		const layer = "VK_LAYER_KHRONOS_validation"
		if !layerAvailable(layer) {
			return nil, errors.New("vk: HALO_VK_VALIDATE=1 but the Khronos validation layer is not installed")
		}
		layers = append(layers, cstr(layer))
		exts = append(exts, cstr("VK_EXT_debug_utils"))
	}
	// Vulkan 1.1 for vkGetPhysicalDeviceProperties2; a loader whose drivers
	// are all 1.0 refuses it, and then 1.0 it is.
	var inst vkb.Instance
	var r vkb.Result
	for _, api := range []uint32{vkb.MakeVersion(1, 1, 0), vkb.MakeVersion(1, 0, 0)} {
		app := &vkb.ApplicationInfo{
			SType:            vkb.StructureTypeApplicationInfo,
			PApplicationName: cstr("halo"),
			PEngineName:      cstr("halo"),
			ApiVersion:       api,
		}
		info := &vkb.InstanceCreateInfo{
			SType:                   vkb.StructureTypeInstanceCreateInfo,
			PApplicationInfo:        app,
			EnabledLayerCount:       uint32(len(layers)),
			PpEnabledLayerNames:     layers,
			EnabledExtensionCount:   uint32(len(exts)),
			PpEnabledExtensionNames: exts,
		}
		if r = vkb.CreateInstance(info, nil, &inst); r != vkb.ErrorIncompatibleDriver {
			in.api = api
			break
		}
	}
	if r == vkb.ErrorIncompatibleDriver {
		return nil, errors.New("vk: no Vulkan driver: the loader found none (no ICD manifest, or none that loads)")
	}
	if err := vkErr("vkCreateInstance", r); err != nil {
		return nil, err
	}
	in.inst = inst
	if err := vkb.InitInstance(inst); err != nil {
		return nil, fmt.Errorf("vk: instance functions: %w", err)
	}
	if in.validate {
		if err := installMessenger(unsafe.Pointer(inst)); err != nil {
			return nil, err
		}
	}
	var n uint32
	if err := vkErr("vkEnumeratePhysicalDevices", vkb.EnumeratePhysicalDevices(inst, &n, nil)); err != nil {
		return nil, err
	}
	if n > 0 {
		in.devices = make([]vkb.PhysicalDevice, n)
		if err := vkErr("vkEnumeratePhysicalDevices", vkb.EnumeratePhysicalDevices(inst, &n, in.devices)); err != nil {
			return nil, err
		}
		in.devices = in.devices[:n]
	}
	// The same device can appear twice (two drivers, or a layer); the
	// first of each UUID is kept.
	seen := map[string]bool{}
	var kept []vkb.PhysicalDevice
	for _, pd := range in.devices {
		var props vkb.PhysicalDeviceProperties
		vkb.GetPhysicalDeviceProperties(pd, &props)
		props.Deref()
		info := DeviceInfo{Index: len(kept), Name: vkb.ToString(props.DeviceName[:]),
			Type: deviceType(props.DeviceType), API: versionString(props.ApiVersion)}
		if in.api >= vkb.MakeVersion(1, 1, 0) && props.ApiVersion >= vkb.MakeVersion(1, 1, 0) {
			if _, uuid, ok := props2(unsafe.Pointer(inst), unsafe.Pointer(pd)); ok {
				info.UUID = fmt.Sprintf("%x", uuid)
				if seen[info.UUID] {
					continue
				}
				seen[info.UUID] = true
			}
		}
		kept = append(kept, pd)
		in.infos = append(in.infos, info)
	}
	in.devices = kept
	return in, nil
}

// choose picks a device: HALO_VK_DEVICE (an index, or part of a name) when
// set, else the first discrete GPU, then the first integrated one. A CPU
// implementation is never chosen unless asked for.
func (in *instance) choose(want string) (int, error) {
	if len(in.infos) == 0 {
		return -1, errors.New("vk: the Vulkan loader found no device (is a driver installed?)")
	}
	var names []string
	for _, d := range in.infos {
		names = append(names, fmt.Sprintf("%d: %s (%s)", d.Index, d.Name, d.Type))
	}
	list := strings.Join(names, "; ")
	if want = strings.TrimSpace(want); want != "" {
		if i, err := strconv.Atoi(want); err == nil {
			if i < 0 || i >= len(in.infos) {
				return -1, fmt.Errorf("vk: HALO_VK_DEVICE=%s: no such device (have %s)", want, list)
			}
			return i, nil
		}
		for _, d := range in.infos {
			if strings.Contains(strings.ToLower(d.Name), strings.ToLower(want)) {
				return d.Index, nil
			}
		}
		return -1, fmt.Errorf("vk: HALO_VK_DEVICE=%s matches no device (have %s)", want, list)
	}
	for _, kind := range []string{"discrete", "integrated"} {
		for _, d := range in.infos {
			if d.Type == kind {
				return d.Index, nil
			}
		}
	}
	return -1, fmt.Errorf("vk: no GPU (have %s); a CPU implementation is used only when named in HALO_VK_DEVICE", list)
}

// device is an opened logical device with one compute queue.
type device struct {
	info    DeviceInfo
	limits  Limits
	pd      vkb.PhysicalDevice
	dev     vkb.Device
	queue   vkb.Queue
	family  uint32
	memory  vkb.PhysicalDeviceMemoryProperties
	devType vkb.PhysicalDeviceType
}

func (in *instance) open(i int) (*device, error) {
	defer withoutGC()()
	pd := in.devices[i]
	var props vkb.PhysicalDeviceProperties
	vkb.GetPhysicalDeviceProperties(pd, &props)
	props.Deref()
	props.Limits.Deref()
	l := props.Limits
	d := &device{info: in.infos[i], pd: pd, devType: props.DeviceType}
	d.limits = Limits{
		MaxWorkgroupInvocations: int(l.MaxComputeWorkGroupInvocations),
		MaxWorkgroupCount:       [3]int{int(l.MaxComputeWorkGroupCount[0]), int(l.MaxComputeWorkGroupCount[1]), int(l.MaxComputeWorkGroupCount[2])},
		MaxSharedMemory:         int(l.MaxComputeSharedMemorySize),
		MaxStorageBufferRange:   int(l.MaxStorageBufferRange),
		MaxPushConstants:        int(l.MaxPushConstantsSize),
		MaxBoundDescriptorSets:  int(l.MaxBoundDescriptorSets),
		MaxPerStageStorageBufs:  int(l.MaxPerStageDescriptorStorageBuffers),
	}
	if props.ApiVersion >= vkb.MakeVersion(1, 1, 0) && in.api >= vkb.MakeVersion(1, 1, 0) {
		d.limits.SubgroupSize, _, _ = props2(unsafe.Pointer(in.inst), unsafe.Pointer(pd))
	}
	// Elementwise kernels use workgroups of 256 invocations; batch norm binds
	// ten storage buffers; every kernel's parameters fit in 128 bytes.
	if d.limits.MaxPushConstants < 128 || d.limits.MaxPerStageStorageBufs < 10 || d.limits.MaxWorkgroupInvocations < 256 ||
		l.MaxComputeWorkGroupSize[0] < 256 || d.limits.MaxSharedMemory < 8192 {
		return nil, fmt.Errorf("vk: device %s is below the limits the kernels need: %+v", d.info.Name, d.limits)
	}

	var nf uint32
	vkb.GetPhysicalDeviceQueueFamilyProperties(pd, &nf, nil)
	fams := make([]vkb.QueueFamilyProperties, nf)
	vkb.GetPhysicalDeviceQueueFamilyProperties(pd, &nf, fams)
	family := -1
	for f := range fams[:nf] {
		fams[f].Deref()
		if fams[f].QueueFlags&vkb.QueueFlags(vkb.QueueComputeBit) != 0 && fams[f].QueueCount > 0 {
			family = f
			break
		}
	}
	if family < 0 {
		return nil, fmt.Errorf("vk: device %s has no compute queue", d.info.Name)
	}
	d.family = uint32(family)
	qinfo := []vkb.DeviceQueueCreateInfo{{
		SType:            vkb.StructureTypeDeviceQueueCreateInfo,
		QueueFamilyIndex: d.family,
		QueueCount:       1,
		PQueuePriorities: []float32{1},
	}}
	dinfo := &vkb.DeviceCreateInfo{
		SType:                vkb.StructureTypeDeviceCreateInfo,
		QueueCreateInfoCount: 1,
		PQueueCreateInfos:    qinfo,
	}
	var dev vkb.Device
	if err := vkErr("vkCreateDevice", vkb.CreateDevice(pd, dinfo, nil, &dev)); err != nil {
		return nil, err
	}
	d.dev = dev
	if err := loadDeviceFns(unsafe.Pointer(in.inst), unsafe.Pointer(dev)); err != nil {
		return nil, err
	}
	var q vkb.Queue
	vkb.GetDeviceQueue(dev, d.family, 0, &q)
	d.queue = q
	var mp vkb.PhysicalDeviceMemoryProperties
	vkb.GetPhysicalDeviceMemoryProperties(pd, &mp)
	d.memory = mp
	d.memory.Deref()
	for t := range d.memory.MemoryTypes[:d.memory.MemoryTypeCount] {
		d.memory.MemoryTypes[t].Deref()
	}
	for h := range d.memory.MemoryHeaps[:d.memory.MemoryHeapCount] {
		d.memory.MemoryHeaps[h].Deref()
	}
	return d, nil
}

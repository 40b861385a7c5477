#!/usr/bin/env bash
# Builds vkbench here and bundles what a GPU machine with the NVIDIA driver
# but no Vulkan loader needs to run it.
#
#   vk/cmd/vkbench/gpu.sh DIR            # here: writes DIR/vkbench, DIR/lib/libvulkan.so.1, DIR/run.sh
#   DIR/run.sh [vkbench flags] > out.json  # there: finds the driver, runs the benchmark
#
# run.sh uses the machine's Vulkan loader when it has one, else the bundled
# copy; it uses the driver's ICD manifest when one is installed, else writes
# one for libGLX_nvidia.so.0 (the NVIDIA driver's Vulkan library; containers
# need NVIDIA_DRIVER_CAPABILITIES to include graphics for it to be there).
# The binary links against this machine's glibc, so the GPU machine needs
# one at least as new.
set -euo pipefail
dir=${1:?usage: gpu.sh DIR}
cd "$(dirname "$0")/../../.."
mkdir -p "$dir/lib"
CGO_ENABLED=1 go build -o "$dir/vkbench" ./vk/cmd/vkbench
loader=$(ldconfig -p | awk '/libvulkan\.so\.1 /{print $NF; exit}')
if [ -z "$loader" ]; then
  echo "gpu.sh: no libvulkan.so.1 here to bundle (Debian: apt-get install libvulkan1)" >&2
  exit 1
fi
cp -L "$loader" "$dir/lib/libvulkan.so.1"
cat > "$dir/run.sh" <<'RUN'
#!/usr/bin/env bash
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then
  export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "run.sh: no Vulkan loader installed, using the bundled one" >&2
fi
icd=""
for d in /etc/vulkan/icd.d /usr/share/vulkan/icd.d /usr/local/share/vulkan/icd.d; do
  for f in "$d"/nvidia_icd*.json; do
    if [ -f "$f" ]; then icd=$f; break 2; fi
  done
done
if [ -z "$icd" ]; then
  lib=$(ldconfig -p 2>/dev/null | awk '/libGLX_nvidia\.so\.0 /{print $NF; exit}')
  if [ -z "$lib" ]; then
    for c in /usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0 /usr/lib64/libGLX_nvidia.so.0 /usr/lib/libGLX_nvidia.so.0; do
      if [ -f "$c" ]; then lib=$c; break; fi
    done
  fi
  if [ -z "$lib" ]; then
    echo "run.sh: no NVIDIA Vulkan driver (libGLX_nvidia.so.0) on this machine" >&2
    nvidia-smi -L >&2 || true
    exit 1
  fi
  icd="$here/nvidia_icd.json"
  printf '{"file_format_version": "1.0.0", "ICD": {"library_path": "%s", "api_version": "1.3.0"}}\n' "$lib" > "$icd"
  echo "run.sh: wrote $icd for $lib" >&2
fi
export VK_ICD_FILENAMES=$icd VK_DRIVER_FILES=$icd
exec "$here/vkbench" "$@"
RUN
chmod +x "$dir/run.sh"
echo "gpu.sh: bundle in $dir; on the GPU machine run: $dir/run.sh -backend vulkan > bench.json" >&2

// The ggml devices this process can compute on: the CPU (cpu_backend.h) and whatever GPU backend
// modules are installed (libggml-vulkan.so, libggml-cuda.so, ... beside the addon or in a folder
// of an optional per-backend npm package), and the choice of one device for a model.
//
// GPU modules are loaded once, on first use, through ggml_backend_load: a module whose libraries
// or driver are missing (no libvulkan, no CUDA runtime) fails to load and is reported, never fatal.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "ggml-backend.h"

namespace mm {

struct DeviceInfo {
  std::string name;         // ggml's device name: "CPU", "Vulkan0", "CUDA0", "MTL0"
  std::string description;  // e.g. "llvmpipe (LLVM 15.0.6, 256 bits)", "NVIDIA H200"
  std::string backend;      // the backend's registry name: "CPU", "Vulkan", "CUDA", "Metal"
  std::string type;         // "cpu" | "gpu" | "igpu" | "accel"
  size_t memory_free = 0, memory_total = 0;
};

struct BackendModuleInfo {
  std::string name;   // "vulkan", "cuda", ...
  std::string path;
  bool loaded = false;
  std::string error;  // why it did not load
};

struct DevicesInfo {
  std::vector<DeviceInfo> devices;          // every device ggml registered, CPU included
  std::vector<BackendModuleInfo> modules;   // every GPU module found, loaded or not
};

/**
 * More folders to look for GPU backend modules in (the optional packages' folders, resolved by the
 * JS loader). Takes effect only before the first ensure_devices().
 */
void add_backend_dirs(const std::vector<std::string>& dirs);

/** Loads the CPU backend and the GPU modules once (thread-safe); lists the devices. */
DevicesInfo ensure_devices();

/**
 * A device for a model: `spec` is "auto" (the first GPU, else the CPU), "cpu", or a device name
 * ggml gives (case-insensitive, e.g. "Vulkan0"). A null `dev` means the CPU backend alone.
 */
struct DeviceChoice {
  ggml_backend_dev_t dev = nullptr;
  std::string name = "CPU";
  std::string type = "cpu";
  std::string note;  // set when a GPU was asked for or found but the CPU is used: why
};

/** Throws mm::Error(InvalidArgument) for a name that is no device of this process. */
DeviceChoice choose_device(const std::string& spec);

/** The device spec checked, as the addon's JS boundary reads it ("auto" when empty). */
void check_device_spec(const std::string& spec);

}  // namespace mm

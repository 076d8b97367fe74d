#include "devices.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <mutex>

#include "backend_module.h"
#include "cpu_backend.h"
#include "errors.h"
#include "ggml_log.h"
#include "mm_limits.h"
#include "utf8_path.h"

namespace mm {

namespace {

namespace fs = std::filesystem;

// The GPU backends ggml builds as modules (file name, registry name), in the order "auto" prefers
// them: a vendor's own backend before Vulkan, which may show the same card a second time.
struct GpuBackend {
  const char* module;
  const char* reg;
};
const GpuBackend kGpuBackends[] = {{"cuda", "CUDA"}, {"hip", "ROCm"}, {"metal", "MTL"}, {"musa", "MUSA"},
                                   {"sycl", "SYCL"}, {"vulkan", "Vulkan"}, {"opencl", "OpenCL"}};

#ifdef _WIN32
const char* const kModulePrefix = "ggml-";
const char* const kModuleSuffix = ".dll";
#else
const char* const kModulePrefix = "libggml-";
const char* const kModuleSuffix = ".so";
#endif

struct State {
  std::mutex mu;
  bool loaded = false;
  std::vector<std::string> extra_dirs;
  std::vector<BackendModuleInfo> modules;
  std::map<std::string, std::string> init_failure;  // device name -> why ggml_backend_dev_init failed
  std::map<std::string, bool> init_checked;
};

State& state() {
  static State s;
  return s;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

const char* type_name(enum ggml_backend_dev_type t) {
  switch (t) {
    case GGML_BACKEND_DEVICE_TYPE_CPU: return "cpu";
    case GGML_BACKEND_DEVICE_TYPE_GPU: return "gpu";
    case GGML_BACKEND_DEVICE_TYPE_IGPU: return "igpu";
    case GGML_BACKEND_DEVICE_TYPE_ACCEL: return "accel";
    default: return "other";
  }
}

bool is_gpu(ggml_backend_dev_t d) {
  const auto t = ggml_backend_dev_type(d);
  return t == GGML_BACKEND_DEVICE_TYPE_GPU || t == GGML_BACKEND_DEVICE_TYPE_IGPU;
}

// Called with the state's lock held. Each module is looked for in the addon's folder first, then
// in the extra folders; the first file found for a backend is the one loaded.
void load_gpu_modules(State& s) {
  std::vector<fs::path> dirs;
  const std::string own = module_folder();
  if (!own.empty()) dirs.push_back(path_from_utf8(own));
  for (const std::string& d : s.extra_dirs) dirs.push_back(path_from_utf8(d));
  for (const GpuBackend& b : kGpuBackends) {
    const char* name = b.module;
    for (const fs::path& dir : dirs) {
      const fs::path file = dir / (std::string(kModulePrefix) + name + kModuleSuffix);
      std::error_code ec;
      if (!fs::is_regular_file(file, ec)) continue;
      BackendModuleInfo m;
      m.name = name;
      m.path = path_to_utf8(file);
      take_last_log_error();
      std::string why;
      try {
        m.loaded = load_backend_module(m.path, why) != nullptr;
      } catch (const std::exception& e) {  // a module's registration that throws is a module that did not load
        m.error = e.what();
      } catch (...) {
        m.error = "unknown exception";
      }
      if (!m.loaded && m.error.empty()) {
        if (why.empty()) why = take_last_log_error();
        m.error = why.empty() ? "the module did not initialise (its libraries or driver are missing)" : why;
      }
      s.modules.push_back(std::move(m));
      break;
    }
  }
}

// Whether a backend can be created on `dev` (once per device: a GPU whose driver fails shows it
// here, before any model is placed on it).
std::string init_failure(State& s, ggml_backend_dev_t dev) {
  const std::string name = ggml_backend_dev_name(dev);
  if (!s.init_checked[name]) {
    s.init_checked[name] = true;
    std::string why;
    try {
      take_last_log_error();
      ggml_backend_t b = ggml_backend_dev_init(dev, nullptr);
      if (b) {
        ggml_backend_free(b);
      } else {
        why = take_last_log_error();
        if (why.empty()) why = "ggml could not create a backend on it";
      }
    } catch (const std::exception& e) {
      why = e.what();
    } catch (...) {
      why = "unknown exception";
    }
    s.init_failure[name] = why;
  }
  return s.init_failure[name];
}

}  // namespace

void add_backend_dirs(const std::vector<std::string>& dirs) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.loaded) return;
  for (const std::string& d : dirs) {
    if (!d.empty() && std::find(s.extra_dirs.begin(), s.extra_dirs.end(), d) == s.extra_dirs.end()) s.extra_dirs.push_back(d);
  }
}

DevicesInfo ensure_devices() {
  ensure_cpu_backend();
  install_log_sink();
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.loaded) {
    s.loaded = true;
#ifdef MINIMONKEY_BACKEND_DL
    // A static build (the sanitizer and fuzz builds) has ggml linked in: a module built against the
    // shared libmm-ggml-base.so would bring a second ggml into the process.
    load_gpu_modules(s);
#endif
  }
  DevicesInfo info;
  info.modules = s.modules;
  for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
    ggml_backend_dev_t d = ggml_backend_dev_get(i);
    DeviceInfo di;
    di.name = ggml_backend_dev_name(d);
    di.description = ggml_backend_dev_description(d);
    di.backend = ggml_backend_reg_name(ggml_backend_dev_backend_reg(d));
    di.type = type_name(ggml_backend_dev_type(d));
    ggml_backend_dev_memory(d, &di.memory_free, &di.memory_total);
    info.devices.push_back(std::move(di));
  }
  return info;
}

void check_device_spec(const std::string& spec) {
  if (spec.size() > static_cast<size_t>(limits::kMaxDeviceName)) {
    throw Error(ErrorCode::InvalidArgument, "device must be 'auto', 'cpu' or a device name of at most " +
                                                std::to_string(limits::kMaxDeviceName) + " characters");
  }
  for (unsigned char c : spec) {
    if (!std::isalnum(c) && c != '_' && c != '-' && c != '.' && c != ':') {
      throw Error(ErrorCode::InvalidArgument, "device names hold letters, digits and _ - . : only");
    }
  }
}

DeviceChoice choose_device(const std::string& spec_in) {
  check_device_spec(spec_in);
  const std::string spec = lower(spec_in.empty() ? "auto" : spec_in);
  const DevicesInfo all = ensure_devices();
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  DeviceChoice cpu;
  if (spec == "cpu") return cpu;

  auto use = [&](ggml_backend_dev_t d) {
    DeviceChoice c;
    const std::string why = init_failure(s, d);
    if (!why.empty()) {
      c.note = std::string(ggml_backend_dev_name(d)) + " failed to initialise (" + why + "); using the CPU";
      return c;
    }
    c.dev = d;
    c.name = ggml_backend_dev_name(d);
    c.type = type_name(ggml_backend_dev_type(d));
    return c;
  };

  if (spec == "auto") {
    // In kGpuBackends order, so a vendor backend wins over Vulkan showing the same card.
    for (const GpuBackend& b : kGpuBackends) {
      for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
        ggml_backend_dev_t d = ggml_backend_dev_get(i);
        if (!is_gpu(d) || std::string(ggml_backend_reg_name(ggml_backend_dev_backend_reg(d))) != b.reg) continue;
        DeviceChoice c = use(d);
        if (c.dev) return c;
        cpu.note = c.note;  // try the next GPU; report the failure if none works
      }
    }
    return cpu;
  }

  for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
    ggml_backend_dev_t d = ggml_backend_dev_get(i);
    if (lower(ggml_backend_dev_name(d)) != spec) continue;
    if (ggml_backend_dev_type(d) == GGML_BACKEND_DEVICE_TYPE_CPU) return cpu;
    return use(d);
  }
  // A device of a backend whose module is installed but did not load (no driver, a bad
  // GGML_VK_VISIBLE_DEVICES): the CPU, saying why, as for a device that fails to initialise.
  for (const BackendModuleInfo& m : all.modules) {
    const char* reg = "";
    for (const GpuBackend& b : kGpuBackends) {
      if (m.name == b.module) reg = b.reg;
    }
    if (!m.loaded && (spec.rfind(m.name, 0) == 0 || spec.rfind(lower(reg), 0) == 0)) {
      cpu.note = spec_in + " is unavailable: ggml's " + m.name + " backend did not load (" + m.error + "); using the CPU";
      return cpu;
    }
  }
  std::string known;
  for (const DeviceInfo& d : all.devices) known += (known.empty() ? "" : ", ") + d.name;
  throw Error(ErrorCode::InvalidArgument, "no device named '" + spec_in + "'; this process has " + known +
                                              " (and 'auto', 'cpu'); runtimeInfo().devices lists them");
}

}  // namespace mm

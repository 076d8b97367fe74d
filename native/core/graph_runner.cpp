#include "graph_runner.h"

#include "cpu_backend.h"
#include "cpu_weight_buffer.h"
#include "errors.h"
#include "ggml_log.h"

namespace mm {

namespace {

// A GPU graph is cut into groups of this many nodes, each followed by a sync where cancellation
// is read: the vision tower's ~30 nodes a layer make a few checks per layer at a few microseconds each.
constexpr int kObserveEvery = 32;

bool abort_requested(void* data) {
  const auto* flag = static_cast<const std::atomic<bool>*>(data);
  return flag != nullptr && flag->load(std::memory_order_relaxed);
}

}  // namespace

GraphRunner::GraphRunner(const DeviceChoice& device, int threads) : device_(device) {
  cpu_ = new_cpu_backend(threads);
  if (device_.dev) {
    std::string why;
    try {
      take_last_log_error();
      gpu_ = ggml_backend_dev_init(device_.dev, nullptr);
      if (!gpu_) why = take_last_log_error();
    } catch (const std::exception& e) {
      why = e.what();
    }
    if (!gpu_) {
      device_ = DeviceChoice{};
      device_.note = device.name + " failed to initialise (" + (why.empty() ? "no backend" : why) + "); using the CPU";
    }
  }
}

GraphRunner::~GraphRunner() {
  if (sched_) ggml_backend_sched_free(sched_);
  if (gpu_) ggml_backend_free(gpu_);
  if (cpu_) ggml_backend_free(cpu_);
}

ggml_backend_sched_t GraphRunner::new_sched(size_t graph_size, ggml_backend_t gpu) const {
  ggml_backend_t backends[2];
  int n = 0;
  if (gpu) backends[n++] = gpu;
  backends[n++] = cpu_;  // last: the scheduler's fallback and where graph inputs start
  ggml_backend_sched_t s = ggml_backend_sched_new(backends, nullptr, n, graph_size, /*parallel=*/false, /*op_offload=*/true);
  if (!s) throw Error(ErrorCode::OutOfMemory, "cannot create the graph scheduler");
  return s;
}

// The scheduler's hash set holds every node and leaf of a graph (weights included), so it is
// sized from the graph's capacity and made again only for a larger graph.
void GraphRunner::fit(ggml_cgraph* gf) {
  const size_t need = 2 * static_cast<size_t>(ggml_graph_size(gf));
  if (sched_ && graph_size_ >= need) return;
  if (gpu_ && computed_) renew_gpu_backend();  // a new scheduler is new compute memory (see above)
  if (sched_) ggml_backend_sched_free(sched_);
  sched_ = nullptr;
  capacity_.clear();
  sched_ = new_sched(need, gpu_);
  graph_size_ = need;
}

ggml_backend_buffer_type_t GraphRunner::weight_buffer_type(const ggml_tensor* weight, bool is_matrix, bool allow_amx) const {
  ggml_backend_buffer_type_t cpu_plain = ggml_backend_dev_buffer_type(cpu_device());
  if (gpu_) {
    ggml_backend_buffer_type_t buft = ggml_backend_dev_buffer_type(device_.dev);
    if (!is_matrix || runs_matmul(device_.dev, buft, weight)) return buft;
    return cpu_plain;
  }
  if (is_matrix) {
    if (ggml_backend_buffer_type_t extra = cpu_weight_buffer_type(weight, allow_amx)) return extra;
  }
  return cpu_plain;
}

ggml_backend_buffer_type_t GraphRunner::state_buffer_type() const {
  return ggml_backend_get_default_buffer_type(gpu_ ? gpu_ : cpu_);
}

size_t GraphRunner::measure(ggml_cgraph* gf) {
  check_preallocated(gf);
  // On a GPU the probe gets a backend of its own: its compute memory never touches the live one
  // (see renew_gpu_backend).
  ggml_backend_t probe_gpu = nullptr;
  if (gpu_) {
    probe_gpu = ggml_backend_dev_init(device_.dev, nullptr);
    if (!probe_gpu) throw Error(ErrorCode::Internal, "cannot start " + device_.name + " to measure compute memory");
  }
  ggml_backend_sched_t probe = nullptr;
  try {
    probe = new_sched(2 * static_cast<size_t>(ggml_graph_size(gf)), probe_gpu);
  } catch (...) {
    if (probe_gpu) ggml_backend_free(probe_gpu);
    throw;
  }
  size_t total = 0;
  const bool ok = ggml_backend_sched_reserve(probe, gf);
  if (ok) {
    for (int i = 0; i < ggml_backend_sched_get_n_backends(probe); ++i) {
      total += ggml_backend_sched_get_buffer_size(probe, ggml_backend_sched_get_backend(probe, i));
    }
  }
  ggml_backend_sched_free(probe);
  if (probe_gpu) ggml_backend_free(probe_gpu);
  if (!ok) throw Error(ErrorCode::OutOfMemory, "cannot reserve compute memory");
  return total;
}

bool GraphRunner::fits(const std::vector<int64_t>& shape) const {
  if (!sched_ || capacity_.size() != shape.size()) return false;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] > capacity_[i]) return false;
  }
  return true;
}

size_t GraphRunner::reserved_bytes() const {
  if (!sched_) return 0;
  size_t total = 0;
  for (int i = 0; i < ggml_backend_sched_get_n_backends(sched_); ++i) {
    total += ggml_backend_sched_get_buffer_size(sched_, ggml_backend_sched_get_backend(sched_, i));
  }
  return total;
}

// A fresh GPU backend (and scheduler) before compute memory grows. Measured on Vulkan (lavapipe,
// pinned release): replacing the compute memory under a backend that has already computed (our
// vision graph for 2 tiles, then 4) corrupts the heap, while a backend that has not computed yet,
// or a new one, is clean. Weights live in the device's buffers and stay.
void GraphRunner::renew_gpu_backend() {
  if (sched_) ggml_backend_sched_free(sched_);
  sched_ = nullptr;
  graph_size_ = 0;
  ggml_backend_free(gpu_);
  gpu_ = nullptr;
  take_last_log_error();
  gpu_ = ggml_backend_dev_init(device_.dev, nullptr);
  if (!gpu_) throw Error(ErrorCode::Internal, device_.name + " could not be started again: " + take_last_log_error());
  computed_ = false;
}

size_t GraphRunner::reserve(ggml_cgraph* gf, const std::vector<int64_t>& shape) {
  check_preallocated(gf);
  if (gpu_ && computed_) renew_gpu_backend();
  fit(gf);
  ggml_backend_sched_reset(sched_);
  take_last_log_error();
  if (!ggml_backend_sched_reserve(sched_, gf)) {
    capacity_.clear();
    throw Error(ErrorCode::OutOfMemory, "cannot reserve compute memory on " + device_.name + ": " + take_last_log_error());
  }
  capacity_ = shape;
  return reserved_bytes();
}

// ggml_backend_sched aborts the process on a node that writes into an allocated tensor (a view of
// a cache) when no backend can run it where that tensor lives; such a graph is refused here.
void GraphRunner::check_preallocated(ggml_cgraph* gf) const {
  for (int i = 0; i < ggml_graph_n_nodes(gf); ++i) {
    ggml_tensor* t = ggml_graph_node(gf, i);
    ggml_backend_buffer_t buf = t->view_src ? t->view_src->buffer : t->buffer;
    if (!buf) continue;
    bool ok = false;
    for (ggml_backend_t b : {gpu_, cpu_}) {
      if (b && ggml_backend_supports_buft(b, ggml_backend_buffer_get_type(buf)) && ggml_backend_supports_op(b, t)) ok = true;
    }
    if (!ok) {
      throw Error(ErrorCode::Unsupported, std::string("no backend runs ") + ggml_op_desc(t) + " into " +
                                              ggml_backend_buffer_name(buf) + " memory on " + device_.name);
    }
  }
}

void GraphRunner::alloc(ggml_cgraph* gf, const std::vector<int64_t>& shape, const char* what) {
  check_preallocated(gf);
  if (!fits(shape)) throw Error(ErrorCode::Internal, std::string("compute memory for ") + what + " was not reserved");
  fit(gf);
  ggml_backend_sched_reset(sched_);
  take_last_log_error();
  if (!ggml_backend_sched_alloc_graph(sched_, gf)) {
    const std::string why = take_last_log_error();
    throw Error(ErrorCode::OutOfMemory, std::string("cannot allocate compute memory for ") + what + " on " + device_.name +
                                            (why.empty() ? "" : " (" + why + ")"));
  }
}

bool GraphRunner::observe(ggml_tensor*, bool ask, void* data) {
  auto* self = static_cast<GraphRunner*>(data);
  if (ask) return ++self->since_sync_ % kObserveEvery == 0;
  return !abort_requested(const_cast<std::atomic<bool>*>(self->cancel_));
}

void GraphRunner::compute(ggml_cgraph* gf, const std::atomic<bool>* cancel, const char* what) {
  if (!sched_) throw Error(ErrorCode::Internal, "compute before alloc");
  set_cpu_abort_callback(cpu_, abort_requested, const_cast<std::atomic<bool>*>(cancel));
  // On a GPU the graph runs in groups with a sync after each, where the flag is read; on the CPU
  // alone the abort callback above is read between nodes and the graph runs whole.
  cancel_ = cancel;
  since_sync_ = 0;
  computed_ = true;
  ggml_backend_sched_set_eval_callback(sched_, gpu_ && cancel ? observe : nullptr, this);
  take_last_log_error();
  ggml_status status = GGML_STATUS_FAILED;
  try {
    status = ggml_backend_sched_graph_compute(sched_, gf);
  } catch (const std::exception& e) {  // a GPU backend that throws (a lost device) is a failed compute
    set_cpu_abort_callback(cpu_, nullptr, nullptr);
    throw Error(ErrorCode::Internal, std::string(what) + " failed on " + device_.name + ": " + e.what());
  }
  set_cpu_abort_callback(cpu_, nullptr, nullptr);
  ggml_backend_sched_set_eval_callback(sched_, nullptr, nullptr);
  cancel_ = nullptr;
  if (status == GGML_STATUS_ABORTED || abort_requested(const_cast<std::atomic<bool>*>(cancel))) {
    throw Error(ErrorCode::Aborted, std::string(what) + " aborted");
  }
  if (status != GGML_STATUS_SUCCESS) {
    throw Error(ErrorCode::Internal, std::string(what) + " failed on " + device_.name + ": " + take_last_log_error());
  }
}

}  // namespace mm

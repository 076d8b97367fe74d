// Runs our own ggml graphs (the vision tower, SCM's pre-pass) on a chosen device through
// ggml_backend_sched: the device's backend first and the CPU backend last, so each op runs where
// its weights are, on the GPU first and on the CPU for what the GPU lacks (the scheduler copies
// between them). On the CPU alone the scheduler has the CPU backend only: one split, the same
// kernels and the same repacked weight buffers as a plain CPU compute.
#pragma once
#include <atomic>
#include <cstddef>
#include <string>
#include <vector>

#include "devices.h"
#include "ggml-backend.h"
#include "ggml.h"

namespace mm {

class GraphRunner {
 public:
  // `device`: what choose_device() picked; a device that fails to initialise here leaves the runner
  // on the CPU with the reason in device().note.
  GraphRunner(const DeviceChoice& device, int threads);
  ~GraphRunner();
  GraphRunner(const GraphRunner&) = delete;
  GraphRunner& operator=(const GraphRunner&) = delete;

  const DeviceChoice& device() const { return device_; }
  bool on_gpu() const { return gpu_ != nullptr; }

  // Where a weight goes. On a GPU: the device's buffer type when the device multiplies by such a
  // matrix (mul_mat with f32 activations), or the device's type for any vector; else null (plain CPU
  // memory). On the CPU: ggml's extra (repacked, AMX) CPU type for a matrix one takes, else null.
  ggml_backend_buffer_type_t weight_buffer_type(const ggml_tensor* weight, bool is_matrix, bool allow_amx) const;

  // The buffer type for tensors a graph writes into and keeps across computes (SCM's caches).
  ggml_backend_buffer_type_t state_buffer_type() const;

  // Bytes of compute memory `gf` needs on every backend together (a measurement; nothing kept).
  size_t measure(ggml_cgraph* gf);

  // Compute memory is sized for a graph and kept, with the graph's `shape` (the sizes its memory
  // grows with: tiles; tokens and rows per chunk) as the capacity: a graph of no larger shape
  // never reallocates. reserve() sizes it for `gf`, whose shape it is; returns the bytes. The
  // reserved graph is a throwaway: the scheduler may reorder its nodes for the backend (ggml-vulkan
  // does), so the graph that is computed is built again (as libllama builds its reserve graph).
  size_t reserve(ggml_cgraph* gf, const std::vector<int64_t>& shape);
  bool fits(const std::vector<int64_t>& shape) const;
  size_t reserved_bytes() const;

  // Assigns every node a backend and allocates the graph's memory, within what was reserved for a
  // `shape` at least this large; then inputs can be set. Throws OutOfMemory, or Unsupported for a
  // graph that writes into a tensor no backend can.
  void alloc(ggml_cgraph* gf, const std::vector<int64_t>& shape, const char* what);

  // Computes an allocated graph. `cancel` is polled between nodes on the CPU and between groups
  // of nodes on a GPU (a GPU kernel in flight finishes); when set, throws Aborted.
  void compute(ggml_cgraph* gf, const std::atomic<bool>* cancel, const char* what);

 private:
  ggml_backend_sched_t new_sched(size_t graph_size, ggml_backend_t gpu) const;
  void fit(ggml_cgraph* gf);  // a scheduler large enough for gf
  void renew_gpu_backend();
  void check_preallocated(ggml_cgraph* gf) const;
  static bool observe(ggml_tensor* t, bool ask, void* data);

  DeviceChoice device_;
  ggml_backend_t gpu_ = nullptr;
  ggml_backend_t cpu_ = nullptr;
  ggml_backend_sched_t sched_ = nullptr;
  size_t graph_size_ = 0;
  std::vector<int64_t> capacity_;  // the shape the compute memory is reserved for (empty: none)
  bool computed_ = false;          // since the GPU backend was made
  // The GPU's eval callback: a sync point every kObserveEvery nodes, where the cancel flag is read.
  const std::atomic<bool>* cancel_ = nullptr;
  int since_sync_ = 0;
};

}  // namespace mm

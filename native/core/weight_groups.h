// Weight tensors grouped by the buffer type each is placed in (a GPU's, a repacked CPU layout,
// plain CPU memory): one no-alloc ggml context per type while loading, then one buffer each. The
// groups own their contexts and buffers (RAII) and free them together.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "ggml-backend.h"
#include "ggml.h"

namespace mm {

class WeightGroups {
 public:
  explicit WeightGroups(size_t max_tensors_per_group) : max_(max_tensors_per_group) {}
  ~WeightGroups();
  WeightGroups(const WeightGroups&) = delete;
  WeightGroups& operator=(const WeightGroups&) = delete;

  // A tensor shaped like `meta`, named `name`, in the group of `buft` (no memory yet).
  ggml_tensor* add(const ggml_tensor* meta, const std::string& name, ggml_backend_buffer_type_t buft);

  // Allocates every group's buffer, marked as weights; throws OutOfMemory naming `what`.
  void allocate(const std::string& what);

  size_t bytes() const;

 private:
  struct Group {
    ggml_backend_buffer_type_t buft;
    ggml_context* ctx;
    ggml_backend_buffer_t buffer;
  };
  size_t max_;
  std::vector<Group> groups_;
};

// Reads each tensor's data from the GGUF file into its buffer: directly into plain host memory,
// through ggml_backend_tensor_set (which converts a repacked layout or uploads to a device) elsewhere.
class GgufFile;
void read_weights(const GgufFile& file, const std::vector<ggml_tensor*>& tensors);

}  // namespace mm

// Times llama.cpp's own clip encoder (libmtmd, same pinned source) on tiles of an mmproj, so
// bench:vision can print our encoder beside it from the same run, file and thread count.
//
//   mm-clip-bench <mmproj.gguf> <tiles> <threads>
// prints one JSON line: {"tiles":N,"threads":T,"ms_total":...,"ms_per_tile":...,"n_embd":...}
#include <dlfcn.h>

#include <chrono>
#include <string>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "clip-impl.h"
#include "clip.h"
#include "ggml-backend.h"
#include "mtmd.h"

static void quiet_log(enum ggml_log_level, const char*, void*) {}

// The CPU variant ggml_backend_load_all chose: the module that holds the CPU registry's functions.
static std::string cpu_variant() {
  ggml_backend_dev_t dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
  if (!dev) return "none";
  void* fn = ggml_backend_reg_get_proc_address(ggml_backend_dev_backend_reg(dev), "ggml_backend_get_features");
  Dl_info info{};
  if (!fn || !dladdr(fn, &info) || !info.dli_fname) return "static";
  std::string file = info.dli_fname;
  file = file.substr(file.find_last_of('/') + 1);
  const std::string prefix = "libggml-cpu-";
  if (file.rfind(prefix, 0) != 0) return file;
  return file.substr(prefix.size(), file.find('.', prefix.size()) - prefix.size());
}

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s <mmproj.gguf> <tiles> <threads>\n", argv[0]);
    return 2;
  }
  const char* path = argv[1];
  const int tiles = std::atoi(argv[2]);
  const int threads = std::atoi(argv[3]);
  if (tiles < 1 || threads < 1) return 2;
  ggml_backend_load_all();  // llama.cpp's own choice of CPU variant, from this tool's folder
  if (!std::getenv("MINIMONKEY_DEBUG")) {
    ggml_log_set(quiet_log, nullptr);
    mtmd_log_set(quiet_log, nullptr);
  }

  clip_context_params params{};
  params.use_gpu = false;
  params.flash_attn_type = CLIP_FLASH_ATTN_TYPE_AUTO;  // llama.cpp's default
  params.warmup = true;
  clip_init_result res = clip_init(path, params);
  if (!res.ctx_v) {
    std::fprintf(stderr, "clip_init failed for %s\n", path);
    return 1;
  }
  clip_ctx* ctx = res.ctx_v;

  const int size = 448;
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> pixels(size_t(3) * size * size);
  for (float& v : pixels) v = normal(rng);
  clip_image_f32 img;
  img.set_size({size, size}, false, false);
  img.cpy_buf(pixels);

  // clip copies the result only into a buffer of the right size
  std::vector<float> out(size_t(clip_n_output_tokens(ctx, &img)) * clip_n_mmproj_embd(ctx));
  const auto t0 = std::chrono::steady_clock::now();
  const std::clock_t c0 = std::clock();  // CPU time of all threads: robust to a busy machine
  for (int i = 0; i < tiles; ++i) {
    if (!clip_image_encode(ctx, threads, &img, out)) {
      std::fprintf(stderr, "clip_image_encode failed\n");
      return 1;
    }
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const double cpu_ms = 1000.0 * double(std::clock() - c0) / CLOCKS_PER_SEC;
  std::printf("{\"tiles\":%d,\"threads\":%d,\"ms_total\":%.1f,\"ms_per_tile\":%.1f,\"cpu_ms_per_tile\":%.1f,\"n_embd\":%d,\"variant\":\"%s\"}\n",
              tiles, threads, ms, ms / tiles, cpu_ms / tiles, clip_n_mmproj_embd(ctx), cpu_variant().c_str());
  clip_free(ctx);
  return 0;
}

// A port of the 8-bit path of Pillow's libImaging/Resample.c (ImagingResampleInner with the
// bicubic filter), written from its semantics. Floating-point steps follow Pillow's expression
// order exactly, since coefficient rounding decides output bytes.
#include "resize_bicubic.h"

#include <climits>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>

namespace mm {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // 22: headroom for 8-bit pixels times coefficients
constexpr double kSupport = 2.0;            // bicubic filter support at scale 1

// Forces rounding to double here. Compilers may fuse a*b+c into one FMA (GCC does by default when
// FMA is available, e.g. arm64 or -march=native); Pillow's x86-64 build rounds every step.
inline double rounded(double x) {
  volatile double v = x;
  return v;
}

// Pillow's bicubic_filter with a = -0.5, same operation order.
double bicubic(double x) {
  if (x < 0.0) x = -x;
  if (x < 1.0) {
    const double t = rounded(1.5 * x) - 2.5;  // (a + 2) * x - (a + 3)
    return rounded(t * x * x) + 1;
  }
  if (x < 2.0) {
    const double t = rounded((x - 5) * x) + 8;
    return (rounded(t * x) - 4) * -0.5;
  }
  return 0.0;
}

// Pillow passes the box as floats, so the input extent goes through float.
double scale_of(int in_size, int out_size) {
  return static_cast<double>(static_cast<float>(in_size)) / out_size;
}

int ksize_of(int in_size, int out_size) {
  double filterscale = scale_of(in_size, out_size);
  if (filterscale < 1.0) filterscale = 1.0;
  const double k = std::ceil(kSupport * filterscale) * 2 + 1;
  return k > INT_MAX ? INT_MAX : static_cast<int>(k);
}

// Pillow's coefficient-table limit (outSize * ksize doubles must stay below INT_MAX bytes).
bool coeffs_fit(int in_size, int out_size) {
  const long long ksize = ksize_of(in_size, out_size);
  return static_cast<long long>(out_size) <= INT_MAX / (ksize * static_cast<long long>(sizeof(double)));
}

// Per output pixel: the first input index, the input count, and ksize fixed-point weights.
struct Coeffs {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> k;
};

// precompute_coeffs + normalize_coeffs_8bpc.
Coeffs precompute(int in_size, int out_size) {
  const double scale = scale_of(in_size, out_size);
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = kSupport * filterscale;
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.k.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> w(c.ksize);
  const double ss = 1.0 / filterscale;
  for (int xx = 0; xx < out_size; xx++) {
    const double center = rounded((xx + 0.5) * scale);
    // Truncation toward zero, as Pillow's (int) casts.
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; x++) {
      w[x] = bicubic(rounded((x + xmin - center + 0.5) * ss));
      ww += w[x];
    }
    int32_t* k = &c.k[static_cast<size_t>(xx) * c.ksize];
    for (int x = 0; x < xmax; x++) {
      const double v = ww != 0.0 ? w[x] / ww : w[x];
      // Round half away from zero, then truncate: (int)(±0.5 + v * 2^22).
      k[x] = static_cast<int32_t>(v < 0 ? -0.5 + v * (1 << kPrecisionBits) : 0.5 + v * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

inline uint8_t clip8(int32_t v) {
  if (v <= 0) return 0;
  v >>= kPrecisionBits;
  return v > 255 ? 255 : static_cast<uint8_t>(v);
}

// Rows [row0, row0 + rows) of src (width in_w) resampled horizontally to out_w.
void horizontal(const uint8_t* src, int in_w, int row0, int rows, int out_w, const Coeffs& c, uint8_t* dst) {
  for (int y = 0; y < rows; y++) {
    const uint8_t* in = src + static_cast<size_t>(row0 + y) * in_w * 3;
    uint8_t* out = dst + static_cast<size_t>(y) * out_w * 3;
    for (int xx = 0; xx < out_w; xx++) {
      const int32_t* k = &c.k[static_cast<size_t>(xx) * c.ksize];
      const uint8_t* p = in + static_cast<size_t>(c.first[xx]) * 3;
      int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
      for (int x = 0, n = c.count[xx]; x < n; x++, p += 3) {
        s0 += p[0] * k[x];
        s1 += p[1] * k[x];
        s2 += p[2] * k[x];
      }
      out[xx * 3 + 0] = clip8(s0);
      out[xx * 3 + 1] = clip8(s1);
      out[xx * 3 + 2] = clip8(s2);
    }
  }
}

// Vertical pass; c.first is relative to src's first row. Whole rows at a time (contiguous).
void vertical(const uint8_t* src, int w, int out_h, const Coeffs& c, int row_offset, uint8_t* dst) {
  const size_t row = static_cast<size_t>(w) * 3;
  std::vector<int32_t> acc(row);
  for (int yy = 0; yy < out_h; yy++) {
    const int32_t* k = &c.k[static_cast<size_t>(yy) * c.ksize];
    acc.assign(row, 1 << (kPrecisionBits - 1));
    for (int y = 0, n = c.count[yy]; y < n; y++) {
      const uint8_t* in = src + static_cast<size_t>(c.first[yy] - row_offset + y) * row;
      const int32_t ky = k[y];
      for (size_t i = 0; i < row; i++) acc[i] += in[i] * ky;
    }
    uint8_t* out = dst + static_cast<size_t>(yy) * row;
    for (size_t i = 0; i < row; i++) out[i] = clip8(acc[i]);
  }
}

std::string dims(int a, int b) { return std::to_string(a) + "x" + std::to_string(b); }

}  // namespace

void validate_resize_rgb(int w, int h, int new_w, int new_h) {
  if (w <= 0 || h <= 0 || new_w <= 0 || new_h <= 0) {
    throw std::invalid_argument("resize: sizes must be positive, got " + dims(w, h) + " -> " + dims(new_w, new_h));
  }
  const unsigned long long max_bytes = static_cast<unsigned long long>(PTRDIFF_MAX);
  const auto bytes = [](int a, int b) { return static_cast<unsigned long long>(a) * static_cast<unsigned long long>(b) * 3ULL; };
  if (bytes(w, h) > max_bytes || bytes(new_w, new_h) > max_bytes) {
    throw std::invalid_argument("resize: image too large: " + dims(w, h) + " -> " + dims(new_w, new_h));
  }
  if (!coeffs_fit(w, new_w) || !coeffs_fit(h, new_h)) {
    throw std::invalid_argument("resize: filter tables too large for " + dims(w, h) + " -> " + dims(new_w, new_h));
  }
}

std::vector<uint8_t> resize_bicubic_rgb(const uint8_t* src, int w, int h, int new_w, int new_h) {
  validate_resize_rgb(w, h, new_w, new_h);
  if (src == nullptr) throw std::invalid_argument("resize: source pixels are null");
  const bool need_h = new_w != w;
  const bool need_v = new_h != h;
  if (!need_h && !need_v) return std::vector<uint8_t>(src, src + static_cast<size_t>(w) * h * 3);

  // Pillow computes the vertical table even when the pass is skipped: it bounds the rows the
  // horizontal pass has to produce.
  const Coeffs cv = precompute(h, new_h);
  const int row_first = cv.first[0];
  const int row_last = cv.first[new_h - 1] + cv.count[new_h - 1];

  std::vector<uint8_t> out;
  if (!need_v) {
    out.resize(static_cast<size_t>(new_w) * h * 3);
    horizontal(src, w, 0, h, new_w, precompute(w, new_w), out.data());
    return out;
  }
  out.resize(static_cast<size_t>(new_w) * new_h * 3);
  if (!need_h) {
    vertical(src, w, new_h, cv, 0, out.data());
    return out;
  }
  // The intermediate is uint8, as in Pillow: rounding between the passes is part of the result.
  std::vector<uint8_t> tmp(static_cast<size_t>(new_w) * (row_last - row_first) * 3);
  horizontal(src, w, row_first, row_last - row_first, new_w, precompute(w, new_w), tmp.data());
  vertical(tmp.data(), new_w, new_h, cv, row_first, out.data());
  return out;
}

}  // namespace mm

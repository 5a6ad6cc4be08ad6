// Minimal PNG and baseline JPEG encoders for the images of the sample site (/site/): real files a
// browser decodes, generated at start-up from deterministic pixels. RGB, 8 bits per channel.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "deflate.h"

namespace sample_backend::images {

// Pixels, row by row, 3 bytes (R, G, B) each.
struct Rgb {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> data;
  Rgb(int w, int h) : width(w), height(h), data(static_cast<size_t>(w) * static_cast<size_t>(h) * 3) {}
  uint8_t* at(int x, int y) { return &data[(static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)) * 3]; }
  const uint8_t* at(int x, int y) const {
    return &data[(static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)) * 3];
  }
};

namespace detail {

inline void be32(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}
inline void be16(std::string& out, int v) {
  out += static_cast<char>((v >> 8) & 0xFF);
  out += static_cast<char>(v & 0xFF);
}

inline void pngChunk(std::string& out, std::string_view type, std::string_view data) {
  be32(out, static_cast<uint32_t>(data.size()));
  std::string body(type);
  body += data;
  out += body;
  be32(out, deflate::crc32(body));
}

}  // namespace detail

// A PNG (truecolor, 8 bits, no interlace). Each row uses the filter a simple encoder picks: Sub
// (the difference to the pixel on the left), which suits photo-like images.
inline std::string png(const Rgb& img) {
  std::string raw;
  const size_t stride = static_cast<size_t>(img.width) * 3;
  raw.reserve((stride + 1) * static_cast<size_t>(img.height));
  for (int y = 0; y < img.height; ++y) {
    raw += '\x01';  // filter type 1: Sub
    const uint8_t* row = img.at(0, y);
    for (size_t i = 0; i < stride; ++i) {
      uint8_t left = i >= 3 ? row[i - 3] : 0;
      raw += static_cast<char>(static_cast<uint8_t>(row[i] - left));
    }
  }
  std::string out("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  detail::be32(ihdr, static_cast<uint32_t>(img.width));
  detail::be32(ihdr, static_cast<uint32_t>(img.height));
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // depth 8, color type 2 (RGB), deflate, filter 0, no interlace
  detail::pngChunk(out, "IHDR", ihdr);
  detail::pngChunk(out, "IDAT", deflate::zlib(raw));
  detail::pngChunk(out, "IEND", "");
  return out;
}

namespace detail {

// ITU T.81 Annex K: the example quantization tables (natural order) and the luminance Huffman
// tables, which serve all three components here (a decoder takes any table a component names).
constexpr uint8_t kLumaQuant[64] = {
    16, 11, 10, 16, 24,  40,  51,  61,  12, 12, 14, 19, 26,  58,  60,  55,  14, 13, 16, 24, 40,  57,
    69, 56, 14, 17, 22,  29,  51,  87,  80, 62, 18, 22, 37,  56,  68,  109, 103, 77, 24, 35, 55,  64,
    81, 104, 113, 92, 49, 64,  78,  87,  103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99};
constexpr uint8_t kChromaQuant[64] = {
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99,
    99, 99, 47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99};
constexpr uint8_t kZigzag[64] = {0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,
                                 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6,  7,  14, 21, 28,
                                 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
                                 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63};
constexpr uint8_t kDcBits[16] = {0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0};
constexpr uint8_t kDcValues[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
constexpr uint8_t kAcBits[16] = {0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d};
constexpr uint8_t kAcValues[162] = {
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71,
    0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72,
    0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37,
    0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59,
    0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83,
    0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3,
    0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
    0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
    0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa};

constexpr double kPi = 3.14159265358979323846;
constexpr double kSqrtHalf = 0.70710678118654752440;

struct HuffCode {
  uint16_t code = 0;
  uint8_t bits = 0;
};

// Code for each symbol value from the (BITS, HUFFVAL) lists of a DHT segment (T.81 Annex C).
inline std::array<HuffCode, 256> huffmanCodes(const uint8_t* counts, const uint8_t* values) {
  std::array<HuffCode, 256> table{};
  uint16_t code = 0;
  size_t k = 0;
  for (int len = 1; len <= 16; ++len) {
    for (int i = 0; i < counts[len - 1]; ++i) table[values[k++]] = {code++, static_cast<uint8_t>(len)};
    code = static_cast<uint16_t>(code << 1);
  }
  return table;
}

// Entropy-coded data: most significant bit first, a 0x00 stuffed after every 0xFF byte.
class JpegBits {
 public:
  explicit JpegBits(std::string& out) : out_(out) {}
  void put(uint32_t value, int bits) {
    for (int i = bits - 1; i >= 0; --i) {
      acc_ = static_cast<uint8_t>((acc_ << 1) | ((value >> i) & 1U));
      if (++count_ == 8) emit();
    }
  }
  void flush() {  // pad with one bits
    while (count_ != 0) put(1, 1);
  }

 private:
  void emit() {
    out_ += static_cast<char>(acc_);
    if (acc_ == 0xFF) out_ += '\0';
    acc_ = 0;
    count_ = 0;
  }
  std::string& out_;
  uint8_t acc_ = 0;
  int count_ = 0;
};

inline int bitLength(int v) {
  v = v < 0 ? -v : v;
  int n = 0;
  while (v) {
    ++n;
    v >>= 1;
  }
  return n;
}

}  // namespace detail

// A baseline JFIF JPEG (YCbCr 4:4:4, the Annex K tables scaled to `quality` as libjpeg scales
// them, 1-100).
inline std::string jpeg(const Rgb& img, int quality) {
  using namespace detail;
  quality = std::clamp(quality, 1, 100);
  const int scale = quality < 50 ? 5000 / quality : 200 - 2 * quality;
  std::array<std::array<uint8_t, 64>, 2> quant{};  // natural order
  for (int i = 0; i < 64; ++i) {
    quant[0][static_cast<size_t>(i)] = static_cast<uint8_t>(std::clamp((kLumaQuant[i] * scale + 50) / 100, 1, 255));
    quant[1][static_cast<size_t>(i)] = static_cast<uint8_t>(std::clamp((kChromaQuant[i] * scale + 50) / 100, 1, 255));
  }
  std::string out("\xFF\xD8", 2);
  // APP0 JFIF 1.1, no density units, no thumbnail.
  out += std::string("\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00", 18);
  out += "\xFF\xDB";
  be16(out, 2 + 2 * 65);
  for (int t = 0; t < 2; ++t) {
    out += static_cast<char>(t);
    for (int k = 0; k < 64; ++k) out += static_cast<char>(quant[static_cast<size_t>(t)][kZigzag[k]]);
  }
  out += "\xFF\xC0";
  be16(out, 17);
  out += '\x08';
  be16(out, img.height);
  be16(out, img.width);
  out += std::string("\x03\x01\x11\x00\x02\x11\x01\x03\x11\x01", 10);
  out += "\xFF\xC4";
  be16(out, 2 + 17 + 12 + 17 + 162);
  out += '\x00';
  out.append(reinterpret_cast<const char*>(kDcBits), 16);
  out.append(reinterpret_cast<const char*>(kDcValues), 12);
  out += '\x10';
  out.append(reinterpret_cast<const char*>(kAcBits), 16);
  out.append(reinterpret_cast<const char*>(kAcValues), 162);
  out += "\xFF\xDA";
  be16(out, 12);
  out += std::string("\x03\x01\x00\x02\x00\x03\x00\x00\x3F\x00", 10);

  const auto dc = huffmanCodes(kDcBits, kDcValues), ac = huffmanCodes(kAcBits, kAcValues);
  std::array<std::array<double, 8>, 8> cosine{};
  for (int x = 0; x < 8; ++x) {
    for (int u = 0; u < 8; ++u) cosine[static_cast<size_t>(x)][static_cast<size_t>(u)] = std::cos((2 * x + 1) * u * kPi / 16);
  }
  JpegBits bits(out);
  int previous_dc[3] = {0, 0, 0};
  for (int by = 0; by < img.height; by += 8) {
    for (int bx = 0; bx < img.width; bx += 8) {
      double block[3][8][8];
      for (int y = 0; y < 8; ++y) {
        for (int x = 0; x < 8; ++x) {
          const uint8_t* p = img.at(std::min(bx + x, img.width - 1), std::min(by + y, img.height - 1));
          double r = p[0], g = p[1], b = p[2];
          block[0][y][x] = 0.299 * r + 0.587 * g + 0.114 * b - 128;
          block[1][y][x] = -0.168736 * r - 0.331264 * g + 0.5 * b;
          block[2][y][x] = 0.5 * r - 0.418688 * g - 0.081312 * b;
        }
      }
      for (int c = 0; c < 3; ++c) {
        const auto& q = quant[c == 0 ? 0 : 1];
        int coef[64];
        for (int v = 0; v < 8; ++v) {
          for (int u = 0; u < 8; ++u) {
            double sum = 0;
            for (int y = 0; y < 8; ++y) {
              for (int x = 0; x < 8; ++x) {
                sum += block[c][y][x] * cosine[static_cast<size_t>(x)][static_cast<size_t>(u)] *
                       cosine[static_cast<size_t>(y)][static_cast<size_t>(v)];
              }
            }
            double cu = u == 0 ? kSqrtHalf : 1.0, cv = v == 0 ? kSqrtHalf : 1.0;
            coef[v * 8 + u] = static_cast<int>(std::lround(0.25 * cu * cv * sum / q[static_cast<size_t>(v * 8 + u)]));
          }
        }
        int diff = coef[0] - previous_dc[c];
        previous_dc[c] = coef[0];
        int cat = bitLength(diff);
        bits.put(dc[static_cast<size_t>(cat)].code, dc[static_cast<size_t>(cat)].bits);
        if (cat) bits.put(static_cast<uint32_t>(diff < 0 ? diff + (1 << cat) - 1 : diff), cat);
        int run = 0;
        for (int k = 1; k < 64; ++k) {
          int value = coef[kZigzag[k]];
          if (value == 0) {
            ++run;
            continue;
          }
          while (run >= 16) {
            bits.put(ac[0xF0].code, ac[0xF0].bits);
            run -= 16;
          }
          int size = bitLength(value);
          const HuffCode& h = ac[static_cast<size_t>((run << 4) | size)];
          bits.put(h.code, h.bits);
          bits.put(static_cast<uint32_t>(value < 0 ? value + (1 << size) - 1 : value), size);
          run = 0;
        }
        if (run > 0) bits.put(ac[0x00].code, ac[0x00].bits);
      }
    }
  }
  bits.flush();
  out += "\xFF\xD9";
  return out;
}

}  // namespace sample_backend::images

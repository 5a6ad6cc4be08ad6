#include "filters/tracing/trace_context.h"

#include "gateway/random.h"

namespace perfgate {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

template <size_t N>
bool readHex(std::string_view text, std::array<uint8_t, N>& out) {
  if (text.size() != 2 * N) return false;
  bool nonzero = false;
  for (size_t i = 0; i < N; ++i) {
    int hi = hexValue(text[2 * i]);
    int lo = hexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
    nonzero = nonzero || out[i] != 0;
  }
  return nonzero;
}

}  // namespace

std::optional<TraceParent> parseTraceparent(std::string_view value) {
  // version "-" trace-id "-" parent-id "-" flags; version ff is invalid; version 00 has nothing more.
  if (value.size() < 55 || value[2] != '-' || value[35] != '-' || value[52] != '-') return std::nullopt;
  int v_hi = hexValue(value[0]);
  int v_lo = hexValue(value[1]);
  if (v_hi < 0 || v_lo < 0 || (v_hi == 15 && v_lo == 15)) return std::nullopt;
  bool version0 = v_hi == 0 && v_lo == 0;
  if (version0 ? value.size() != 55 : (value.size() > 55 && value[55] != '-')) return std::nullopt;
  TraceParent parent;
  if (!readHex(value.substr(3, 32), parent.trace_id) || !readHex(value.substr(36, 16), parent.parent_id)) {
    return std::nullopt;
  }
  int f_hi = hexValue(value[53]);
  int f_lo = hexValue(value[54]);
  if (f_hi < 0 || f_lo < 0) return std::nullopt;
  parent.flags = static_cast<uint8_t>(f_hi << 4 | f_lo);
  return parent;
}

std::array<uint8_t, 16> newTraceId() {
  std::array<uint8_t, 16> id{};
  uint64_t a = randomBits();
  uint64_t b = randomBits() | 1;  // never all zero
  for (int i = 0; i < 8; ++i) {
    id[i] = static_cast<uint8_t>(a >> (8 * i));
    id[8 + i] = static_cast<uint8_t>(b >> (8 * i));
  }
  return id;
}

std::array<uint8_t, 8> newSpanId() {
  std::array<uint8_t, 8> id{};
  uint64_t a = randomBits() | 1;
  for (int i = 0; i < 8; ++i) id[i] = static_cast<uint8_t>(a >> (8 * i));
  return id;
}

void appendHex(std::string& out, const uint8_t* bytes, size_t size) {
  static const char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0x0f]);
  }
}

std::string formatTraceparent(const std::array<uint8_t, 16>& trace_id, const std::array<uint8_t, 8>& span_id,
                              uint8_t flags) {
  std::string out = "00-";
  appendHex(out, trace_id.data(), trace_id.size());
  out.push_back('-');
  appendHex(out, span_id.data(), span_id.size());
  out.push_back('-');
  appendHex(out, &flags, 1);
  return out;
}

}  // namespace perfgate

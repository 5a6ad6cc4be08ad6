// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` field read and
// written, and new trace and span ids.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace perfgate {

struct TraceParent {
  std::array<uint8_t, 16> trace_id{};
  std::array<uint8_t, 8> parent_id{};
  uint8_t flags = 0;  // bit 0: sampled
};

// "00-<32 hex>-<16 hex>-<2 hex>" (lower-case hex; a later version's longer value is read by its
// first four parts, as the spec asks); nothing for an invalid value, or all-zero ids.
std::optional<TraceParent> parseTraceparent(std::string_view value);

std::array<uint8_t, 16> newTraceId();
std::array<uint8_t, 8> newSpanId();

// Lower-case hex of `bytes`, appended to `out`.
void appendHex(std::string& out, const uint8_t* bytes, size_t size);

// "00-<trace>-<span>-<flags>".
std::string formatTraceparent(const std::array<uint8_t, 16>& trace_id, const std::array<uint8_t, 8>& span_id,
                              uint8_t flags);

}  // namespace perfgate

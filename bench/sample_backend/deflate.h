// gzip (RFC 1952) and zlib (RFC 1950) streams of a byte string, through zlib at level 6, for the
// sample backend's pre-compressed responses (/page-gz) and its generated PNG images; and CRC-32
// for PNG chunks. Runs once at start-up. Deterministic: the gzip header has no name and MTIME 0,
// so the same input always gives the same bytes.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sample_backend::deflate {

inline uint32_t crc32(std::string_view data, uint32_t crc = 0) {
  return static_cast<uint32_t>(
      ::crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

namespace detail {

// windowBits 15: zlib wrapper; 15 + 16: gzip wrapper.
inline std::string compress(std::string_view in, int window_bits) {
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out(deflateBound(&z, static_cast<uLong>(in.size())) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = ::deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate did not finish");
  return out;
}

}  // namespace detail

inline std::string gzip(std::string_view in) { return detail::compress(in, 15 + 16); }
inline std::string zlib(std::string_view in) { return detail::compress(in, 15); }

}  // namespace sample_backend::deflate

// Micro-benchmarks of compression for response bodies (filters/compression/):
//   - gzip: whole-buffer compression of the sample backend's 20 KB HTML page with zlib and with
//     libdeflate at the levels that matter (1: streams; 6 and 9: cache fills, paid once per
//     object), the streaming path the gateway uses for uncached bodies, and decoding (an identity
//     hit made from a stored gzip variant). Each reports MB/s of identity bytes and the
//     compressed size ("gz_bytes").
//   - Fill/BODY/CODING/LEVEL: the fill cost per content coding and level, encodeWhole() as the
//     cache runs it once per stored object (on the worker, or on the background encoder for the
//     slow levels: gzip 10+, br 10+, zstd 17+), on the 20 KB HTML page (page_html) and on the
//     ~200 KB minified JavaScript bundle (bundle_js, /assets/bundle.js). CPU time per object in
//     ms; counters out_bytes (the encoded size) and ratio_vs_gzip6 (out_bytes / the gzip level 6
//     size of the same body: below 1 is smaller than gzip 6).
//
//   build-release/bench/micro/perfgate-micro-bench --benchmark_filter=Gzip
//   build-release/bench/micro/perfgate-micro-bench --benchmark_filter=Fill
#include <benchmark/benchmark.h>
#include <libdeflate.h>
#include <zlib.h>

#include <string>

#include "gateway/http/content_codec.h"
#include "gateway/http/gzip_codec.h"
#include "sample_backend/content.h"

namespace perfgate {
namespace {

const std::string& page() { return sample_backend::bodies().page_html; }

void report(benchmark::State& state, size_t gz_bytes) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * page().size()));
  state.counters["gz_bytes"] = static_cast<double>(gz_bytes);
  state.counters["in_bytes"] = static_cast<double>(page().size());
}

void BM_GzipZlibWhole(benchmark::State& state) {
  const int level = static_cast<int>(state.range(0));
  const std::string& in = page();
  std::string out(compressBound(static_cast<uLong>(in.size())) + 32, '\0');
  size_t produced = 0;
  for (auto _ : state) {
    z_stream zs{};
    deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    deflate(&zs, Z_FINISH);
    produced = out.size() - zs.avail_out;
    deflateEnd(&zs);
    benchmark::DoNotOptimize(out.data());
  }
  report(state, produced);
}
BENCHMARK(BM_GzipZlibWhole)->Arg(1)->Arg(6)->Arg(9);

void BM_GzipLibdeflateWhole(benchmark::State& state) {
  const int level = static_cast<int>(state.range(0));
  const std::string& in = page();
  libdeflate_compressor* compressor = libdeflate_alloc_compressor(level);
  std::string out(libdeflate_gzip_compress_bound(compressor, in.size()), '\0');
  size_t produced = 0;
  for (auto _ : state) {
    produced = libdeflate_gzip_compress(compressor, in.data(), in.size(), out.data(), out.size());
    benchmark::DoNotOptimize(out.data());
  }
  libdeflate_free_compressor(compressor);
  report(state, produced);
}
BENCHMARK(BM_GzipLibdeflateWhole)->Arg(1)->Arg(6)->Arg(9)->Arg(12);

// What the gateway runs: gzipCompress (whole) and GzipStream in 16 KiB pieces.
void BM_GzipGatewayWhole(benchmark::State& state) {
  std::string out;
  for (auto _ : state) {
    out = gzipCompress(page(), static_cast<int>(state.range(0)));
    benchmark::DoNotOptimize(out.data());
  }
  report(state, out.size());
}
BENCHMARK(BM_GzipGatewayWhole)->Arg(6);

void BM_GzipGatewayStream(benchmark::State& state) {
  std::string out;
  for (auto _ : state) {
    out.clear();
    GzipStream stream(static_cast<int>(state.range(0)), true);
    std::string_view in = page();
    for (size_t at = 0; at < in.size(); at += 16384) stream.write(in.substr(at, 16384), false, out);
    stream.write({}, true, out);
    benchmark::DoNotOptimize(out.data());
  }
  report(state, out.size());
}
BENCHMARK(BM_GzipGatewayStream)->Arg(1);

void BM_GunzipZlib(benchmark::State& state) {
  const std::string gz = gzipCompress(page(), 6);
  for (auto _ : state) {
    auto decoded = gzipDecompress(gz, 1 << 20);
    benchmark::DoNotOptimize(decoded);
  }
  report(state, gz.size());
}
BENCHMARK(BM_GunzipZlib);

// One fill: `body` encoded whole in `coding` at `level`.
void BM_Fill(benchmark::State& state, const std::string* body, ContentCoding coding, int level) {
  const double gzip6 = static_cast<double>(encodeWhole(ContentCoding::Gzip, *body, 6).size());
  std::string out;
  for (auto _ : state) {
    out = encodeWhole(coding, *body, level);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body->size()));
  state.counters["in_bytes"] = static_cast<double>(body->size());
  state.counters["out_bytes"] = static_cast<double>(out.size());
  state.counters["ratio_vs_gzip6"] = static_cast<double>(out.size()) / gzip6;
}

// The levels around the [compression] defaults: gzip 1 (stream_level), 6 (level), 9; br 4
// (br_stream_level), 5, 9, 11 (br_level, made in the background); zstd 3 (zstd_stream_level), 9,
// 19 (zstd_level, made in the background).
[[maybe_unused]] const bool kFillRegistered = [] {
  const struct {
    const char* name;
    const std::string* body;
  } kBodies[] = {{"page_html", &sample_backend::bodies().page_html},
                 {"bundle_js", &sample_backend::bodies().bundle_js}};
  const struct {
    ContentCoding coding;
    int level;
  } kLevels[] = {{ContentCoding::Gzip, 1}, {ContentCoding::Gzip, 6}, {ContentCoding::Gzip, 9},
                 {ContentCoding::Br, 4},   {ContentCoding::Br, 5},   {ContentCoding::Br, 9},
                 {ContentCoding::Br, 11},  {ContentCoding::Zstd, 3}, {ContentCoding::Zstd, 9},
                 {ContentCoding::Zstd, 19}};
  for (const auto& b : kBodies) {
    for (const auto& l : kLevels) {
      const std::string name = std::string("Fill/") + b.name + "/" + std::string(codingName(l.coding)) + "/" +
                               std::to_string(l.level);
      benchmark::RegisterBenchmark(name.c_str(), BM_Fill, b.body, l.coding, l.level)->Unit(benchmark::kMillisecond);
    }
  }
  return true;
}();

}  // namespace
}  // namespace perfgate

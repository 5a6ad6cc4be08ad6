// Micro-benchmarks of per-route timing (filters/timing/): what recording one exchange costs a
// worker, and what merging costs the admin thread.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <vector>

#include "filters/timing/latency_histogram.h"
#include "filters/timing/timing_stats.h"

namespace perfgate {
namespace {

std::vector<uint64_t> latencies(size_t n) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(13.0, 1.5);  // median ~0.44 ms, long tail
  std::vector<uint64_t> out;
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<uint64_t>(dist(rng)));
  return out;
}

void BM_HistogramRecord(benchmark::State& state) {
  auto h = std::make_unique<LatencyHistogram>();
  std::vector<uint64_t> values = latencies(4096);
  size_t i = 0;
  for (auto _ : state) {
    h->record(values[i++ & 4095]);
  }
  benchmark::DoNotOptimize(h.get());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HistogramRecord);

// What TimingFilter::onComplete does per exchange: find the worker's slot, bump the counters,
// record two latencies.
void BM_RecordExchange(benchmark::State& state) {
  TimingStats stats;
  uint32_t route = stats.routeId("api");
  std::vector<uint64_t> values = latencies(4096);
  size_t i = 0;
  for (auto _ : state) {
    RouteTiming& t = stats.route(route);
    singleWriterAdd(t.requests);
    singleWriterAdd(t.status[0][200 - kLowestStatus]);
    singleWriterAdd(t.bytes_out, 789);
    uint64_t v = values[i++ & 4095];
    t.total.record(v + 20'000);
    t.upstream.record(v);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordExchange);

void BM_MergeAndQuantiles(benchmark::State& state) {
  TimingStats stats;
  for (int r = 0; r < state.range(0); ++r) {
    RouteTiming& t = stats.route(stats.routeId("route" + std::to_string(r)));
    for (uint64_t v : latencies(1000)) t.total.record(v);
  }
  for (auto _ : state) {
    TimingTotals totals = stats.merged();
    double sum = 0;
    for (const auto& [name, t] : totals.routes) sum += t.total.quantile(0.99);
    benchmark::DoNotOptimize(sum);
  }
}
BENCHMARK(BM_MergeAndQuantiles)->Arg(1)->Arg(16);

}  // namespace
}  // namespace perfgate

// The cache's figures, each declared once for GET /metrics and the JSON views: outcomes per
// route ("metrics" view), the store and its per-route storing counters ("cache" view, the body
// of GET /api/cache/stats), the store's size ("system" view) and the L2 layer.
#include "filters/cache/cache_module.h"
#include "filters/cache/freshness.h"

namespace perfgate {
namespace {

constexpr size_t kOutcomes = static_cast<size_t>(CacheOutcome::kCount);

const MetricFamily kRequests{"perfgate_cache_requests_total", "counter", "Requests by route and cache result."};
const MetricFamily kBytes{"perfgate_cache_bytes", "gauge",
                          "Bytes held by the response cache (heads, bodies, keys, bookkeeping)."};
const MetricFamily kMaxBytes{"perfgate_cache_max_bytes", "gauge", "The response cache's byte budget."};
const MetricFamily kEntries{"perfgate_cache_entries", "gauge", "Responses held by the cache."};
const MetricFamily kRecoded{"perfgate_cache_variants_recoded_total", "counter",
                            "Coding variants made on a worker from another stored variant of the URL."};
const MetricFamily kBackground{"perfgate_compression_background_total", "counter",
                               "Slow-level variants of stored objects given to the background encoder, by result."};
const MetricFamily kBackgroundQueued{"perfgate_compression_background_queued", "gauge",
                                     "Objects waiting for the background encoder."};
const MetricFamily kEvictions{"perfgate_cache_evictions_total", "counter",
                              "Entries evicted to stay within the byte budget."};
const MetricFamily kNotStored{"perfgate_cache_not_stored_total", "counter",
                               "Responses on cached routes that were not stored, by route and reason."};
const MetricFamily kL2Up{"perfgate_l2_up", "gauge", "1 when every worker's Redis link of the L2 cache is ready."};
const MetricFamily kL2Links{"perfgate_l2_links", "gauge", "Worker links to the L2 Redis, by state."};

// The L2 counters: the Prometheus sample and the key of the "l2" JSON object, from one row each.
struct L2Counter {
  MetricFamily family;
  Label label;            // {} for none
  const char* json;       // key in the "l2" object
  std::atomic<uint64_t> L2Counters::*field;
};
constexpr MetricFamily kL2Lookups{"perfgate_l2_lookups_total", "counter",
                                  "L1 misses for L2, by result: a usable record (hit), none (miss), no answer within "
                                  "the L2 timeout (timeout), or not asked because the link was not ready "
                                  "(unavailable)."};
const L2Counter kL2Counters[] = {
    // One family for what became of each L1 miss that L2 could have answered.
    {kL2Lookups, {"result", "hit"}, "hits", &L2Counters::hits},
    {kL2Lookups, {"result", "miss"}, "misses", &L2Counters::misses},
    {kL2Lookups, {"result", "timeout"}, "timeouts", &L2Counters::timeouts},
    {kL2Lookups, {"result", "unavailable"}, "unavailable", &L2Counters::unavailable},
    {{"perfgate_l2_corrupt_total", "counter", "Values in Redis that were not valid records (ignored; the lookup "
                                              "counts as a miss)."},
     {}, "corrupt", &L2Counters::corrupt},
    {{"perfgate_l2_writes_total", "counter", "Records written to L2, and writes dropped."}, {"result", "written"},
     "writes", &L2Counters::writes},
    {{"perfgate_l2_writes_total", "counter", "Records written to L2, and writes dropped."}, {"result", "dropped"},
     "writes_dropped", &L2Counters::writes_dropped},
    {{"perfgate_l2_deletes_total", "counter", "Keys removed from L2 (invalidations, clears)."}, {}, "deletes",
     &L2Counters::deletes},
    {{"perfgate_l2_errors_total", "counter", "Failed L2 commands and connections."}, {}, "errors", &L2Counters::errors},
    {{"perfgate_l2_connects_total", "counter", "Redis links that became ready."}, {}, "connects", &L2Counters::connects},
    {{"perfgate_l2_disconnects_total", "counter", "Ready Redis links lost."}, {}, "disconnects",
     &L2Counters::disconnects},
    {{"perfgate_l2_purges_total", "counter", "Purge messages published to, and applied from, other instances."},
     {"direction", "sent"}, "purges_sent", &L2Counters::purges_sent},
    {{"perfgate_l2_purges_total", "counter", "Purge messages published to, and applied from, other instances."},
     {"direction", "received"}, "purges_received", &L2Counters::purges_received},
};

void addOutcomes(RouteCacheTotals& into, const RouteCacheTotals& from) {
  for (size_t i = 0; i < kOutcomes; ++i) {
    into.requests[i] += from.requests[i];
    into.bytes[i] += from.bytes[i];
  }
}

}  // namespace

nlohmann::json CacheModule::l2Json() const {
  L2Cache::State state = l2_->state();
  const L2Counters& c = l2_->counters();
  // up: every worker's link is ready; degraded: some are; down: none (lookups are misses then).
  const char* status = state.links != 0 && state.ready == state.links ? "up" : state.ready > 0 ? "degraded" : "down";
  nlohmann::json out = {
      {"status", status},
      {"redis", l2_->config().redis},
      {"links", state.links},
      {"links_ready", state.ready},
      {"control_ready", state.control_ready},
      {"subscriber_ready", state.subscriber_ready},
      {"last_error", state.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(state.last_error)},
      {"last_error_seconds_ago",
       state.last_error_seconds_ago < 0 ? nlohmann::json(nullptr) : nlohmann::json(state.last_error_seconds_ago)}};
  out["lookups"] = c.lookups.load(std::memory_order_relaxed);  // L1 misses asked of L2 (JSON only)
  for (const L2Counter& counter : kL2Counters) out[counter.json] = (c.*counter.field).load(std::memory_order_relaxed);
  return out;
}

void CacheModule::collectMetrics(MetricsSink& sink) const {
  std::map<std::string, RouteCacheTotals> totals = stats_->merged();
  CacheStore::Stats store = store_->stats();

  // Outcomes of the configured routes, and over all of them ("metrics" view).
  RouteCacheTotals global;
  for (const RouteConfig& route : config_->routes) {
    const RouteCacheTotals& t = totals[route.name];
    addOutcomes(global, t);
    for (size_t i = 0; i < kOutcomes; ++i) {
      sink.sample(kRequests, {{"route", route.name}, {"result", outcomeName(static_cast<CacheOutcome>(i))}},
                  t.requests[i], "metrics:routes.{route}.cache.{result}");
    }
    sink.json("metrics:routes.{route}.cache.hit_ratio", {{"route", route.name}}, hitRatio(t));
  }
  for (size_t i = 0; i < kOutcomes; ++i) {
    sink.json("metrics:global.cache.{result}", {{"result", outcomeName(static_cast<CacheOutcome>(i))}},
              global.requests[i]);
  }
  sink.json("metrics:global.cache.hit_ratio", {}, hitRatio(global));

  // The store ("cache" view: GET /api/cache/stats; "system" view).
  sink.sample(kBytes, {}, store.bytes, "cache:bytes");
  sink.json("system:cache.bytes", {}, store.bytes);
  sink.sample(kMaxBytes, {}, store_->maxBytes(), "cache:max_bytes");
  sink.json("system:cache.max_bytes", {}, store_->maxBytes());
  sink.sample(kEntries, {}, store.entries, "cache:entries");
  sink.json("system:cache.entries", {}, store.entries);
  sink.sample(kEvictions, {}, store.evictions, "cache:evictions");
  sink.json("cache:inserts", {}, store.inserts);
  sink.json("cache:replaced", {}, store.replaced);
  uint64_t recoded = 0;
  for (const auto& [name, t] : totals) {
    Labels route = {{"route", name}};
    sink.json("cache:routes.{route}.stored", route, t.stored);
    sink.json("cache:routes.{route}.stored_bytes", route, t.stored_bytes);
    sink.json("cache:routes.{route}.not_stored", route, t.not_stored);
    for (size_t i = 0; i < kOutcomes; ++i) {
      const char* outcome = outcomeName(static_cast<CacheOutcome>(i));
      sink.json("cache:routes.{route}.{result}", {{"route", name}, {"result", outcome}},
                {{"requests", t.requests[i]}, {"bytes", t.bytes[i]}});
    }
    nlohmann::json reasons = nlohmann::json::object();
    for (size_t i = 1; i < kNotStorableReasons; ++i) {  // 0 is NotStorableReason::None
      const char* reason = describe(static_cast<NotStorableReason>(i));
      sink.sample(kNotStored, {{"route", name}, {"reason", reason}}, t.not_stored_by[i]);  // zeros too: stable series
      if (t.not_stored_by[i] != 0) reasons[reason] = t.not_stored_by[i];
    }
    sink.json("cache:routes.{route}.not_stored_reasons", route, reasons);
    auto evicted = store.evictions_by_route.find(name);
    sink.json("cache:routes.{route}.evictions", route, evicted == store.evictions_by_route.end() ? 0 : evicted->second);
    sink.json("cache:routes.{route}.hit_ratio", route, hitRatio(t));
    recoded += t.recoded;
  }
  if (totals.empty()) sink.json("cache:routes", {}, nlohmann::json::object());
  sink.sample(kRecoded, {}, recoded, "cache:compression.recoded");
  if (encoder_ != nullptr) {
    BackgroundEncoder::Totals background = encoder_->totals();
    sink.sample(kBackground, {{"result", "submitted"}}, background.submitted, "cache:compression.background.submitted");
    sink.sample(kBackground, {{"result", "stored"}}, background.stored, "cache:compression.background.stored");
    sink.sample(kBackground, {{"result", "dropped"}}, background.dropped, "cache:compression.background.dropped");
    sink.sample(kBackground, {{"result", "superseded"}}, background.superseded, "cache:compression.background.superseded");
    sink.sample(kBackground, {{"result", "failed"}}, background.failed, "cache:compression.background.failed");
    sink.sample(kBackgroundQueued, {}, background.queued, "cache:compression.background.queued");
  }

  // The L2 layer.
  if (l2_ == nullptr) {
    sink.json("metrics:l2", {}, nullptr);
    return;
  }
  sink.json("metrics:l2", {}, l2Json());
  L2Cache::State state = l2_->state();
  sink.sample(kL2Up, {}, uint64_t{state.links != 0 && state.ready == state.links ? 1u : 0u});
  sink.sample(kL2Links, {{"state", "ready"}}, uint64_t{state.ready});
  sink.sample(kL2Links, {{"state", "down"}}, uint64_t{state.links - std::min(state.ready, state.links)});
  const L2Counters& c = l2_->counters();
  for (const L2Counter& counter : kL2Counters) {
    uint64_t value = (c.*counter.field).load(std::memory_order_relaxed);
    if (counter.label.name.empty()) {
      sink.sample(counter.family, {}, value);
    } else {
      sink.sample(counter.family, {counter.label}, value);
    }
  }
}

}  // namespace perfgate

#include "filters/cache/background_refresh.h"

#include "filters/cache/stored_response.h"

namespace perfgate {

BackgroundRefresh::BackgroundRefresh(std::shared_ptr<CacheStore> store, std::shared_ptr<FillRegistry> fills,
                                     std::shared_ptr<L2Cache> l2, CacheEntryPtr stale, StoragePolicy policy,
                                     uint64_t max_object_bytes, bool had_authorization, const Clock& clock)
    : store_(std::move(store)),
      fills_(std::move(fills)),
      l2_(std::move(l2)),
      stale_(std::move(stale)),
      policy_(policy),
      max_object_bytes_(max_object_bytes),
      had_authorization_(had_authorization),
      clock_(clock),
      request_time_(clock.now()) {}

void BackgroundRefresh::store(const CacheEntryPtr& entry) {
  if (store_->insert(entry) && l2_ != nullptr) l2_->store(*entry, clock_.now());
}

void BackgroundRefresh::onUpstreamHeaders(ResponseHead& head) {
  CacheControl response_cc = parseCacheControl(head.headers);
  if (head.status == 304) {
    store(refreshedEntry(*stale_, head, response_cc, request_time_, clock_.now(), policy_));
    return;
  }
  CacheControl no_directives;
  if (checkStorable("GET", head.status, no_directives, had_authorization_, head.headers, response_cc, policy_) !=
      NotStorableReason::None) {
    return;
  }
  std::vector<std::string> vary = varyNames(head.headers);
  if (vary != stale_->vary) return;  // selection changed: the next miss stores the right variant
  filling_ = newEntry(stale_->key, stale_->hash, std::move(vary), stale_->variant, stale_->route, head, response_cc,
                      request_time_, clock_.now(), policy_);
}

bool BackgroundRefresh::onUpstreamData(std::string_view data) {
  if (filling_ != nullptr) {
    if (filling_->body.size() + data.size() > max_object_bytes_) {
      filling_.reset();
    } else {
      filling_->body.append(data);
    }
  }
  return true;
}

void BackgroundRefresh::onUpstreamDone(UpstreamResult result, const char*) {
  if (result == UpstreamResult::Ok && filling_ != nullptr) {
    finishEntry(*filling_);
    store(filling_);
    filling_.reset();
  }
  fills_->endRefresh(stale_->key, stale_->hash);
  delete this;
}

}  // namespace perfgate

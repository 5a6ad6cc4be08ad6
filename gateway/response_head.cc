// UpstreamResponseHead's field helpers (declared in gateway/upstream.h).
#include <algorithm>

#include "gateway/upstream.h"

namespace perfgate {

std::optional<std::string_view> UpstreamResponseHead::field(std::string_view name) const {
  for (const HeaderField& f : headers) {
    if (equalsIgnoreCase(f.name, name)) return f.value;
  }
  return std::nullopt;
}

void UpstreamResponseHead::removeFields(std::string_view name) {
  headers.erase(std::remove_if(headers.begin(), headers.end(),
                               [&](const HeaderField& f) { return equalsIgnoreCase(f.name, name); }),
                headers.end());
}

void UpstreamResponseHead::addField(std::string_view name, std::string_view value) {
  std::string& line = added.emplace_back();
  line.reserve(name.size() + value.size());
  line.append(name);
  line.append(value);
  std::string_view text = line;
  headers.push_back(HeaderField{text.substr(0, name.size()), text.substr(name.size())});
}

UpstreamResponseHead copyHead(const UpstreamResponseHead& head) {
  UpstreamResponseHead copy;
  copy.status = head.status;
  copy.raw = head.raw;
  std::string_view old_raw = head.raw;
  std::string_view new_raw = copy.raw;
  auto inRaw = [&](std::string_view view) {
    return view.data() >= old_raw.data() && view.data() + view.size() <= old_raw.data() + old_raw.size();
  };
  auto rebase = [&](std::string_view view) { return new_raw.substr(static_cast<size_t>(view.data() - old_raw.data()), view.size()); };
  copy.reason = inRaw(head.reason) ? rebase(head.reason) : std::string_view(copy.added.emplace_back(head.reason));
  for (const HeaderField& f : head.headers) {
    if (inRaw(f.name) && inRaw(f.value)) {
      copy.headers.push_back(HeaderField{rebase(f.name), rebase(f.value)});
    } else {
      copy.addField(f.name, f.value);
    }
  }
  return copy;
}

}  // namespace perfgate

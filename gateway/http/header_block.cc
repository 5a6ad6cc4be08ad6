#include "gateway/http/header_block.h"

#include <cstring>

#include "gateway/http/tokens.h"

namespace perfgate {

bool HeaderBlock::sameName(std::string_view a, std::string_view b) { return equalsIgnoreCase(a, b); }

std::optional<std::string_view> HeaderBlock::get(std::string_view name) const {
  for (size_t i = 0; i < fields_.size(); ++i) {
    HeaderField f = at(i);
    if (equalsIgnoreCase(f.name, name)) return f.value;
  }
  return std::nullopt;
}

size_t HeaderBlock::count(std::string_view name) const {
  size_t n = 0;
  forEach(name, [&n](std::string_view) { ++n; });
  return n;
}

void HeaderBlock::add(std::string_view name, std::string_view value) {
  // A name or value viewed inside this block's own buffer would go stale when it grows.
  auto inside = [this](std::string_view v) {
    return !v.empty() && v.data() >= buffer_.data() && v.data() < buffer_.data() + buffer_.size();
  };
  if (inside(name) || inside(value)) {
    std::string copy;
    copy.reserve(name.size() + value.size());
    copy.append(name);
    copy.append(value);
    add(std::string_view(copy).substr(0, name.size()), std::string_view(copy).substr(name.size()));
    return;
  }
  Slot s{static_cast<uint32_t>(buffer_.size()), static_cast<uint32_t>(name.size()), 0,
         static_cast<uint32_t>(value.size())};
  buffer_.append(name);
  s.value = static_cast<uint32_t>(buffer_.size());
  buffer_.append(value);
  fields_.push_back(s);
}

size_t HeaderBlock::remove(std::string_view name) {
  return removeIf([name](const HeaderField& f) { return equalsIgnoreCase(f.name, name); });
}

std::string_view HeaderBlock::adopt(std::string_view text) {
  fields_.clear();
  buffer_.assign(text);
  return buffer_;
}

void HeaderBlock::addParsed(std::string_view name, std::string_view value) {
  fields_.push_back(Slot{static_cast<uint32_t>(name.data() - buffer_.data()), static_cast<uint32_t>(name.size()),
                         static_cast<uint32_t>(value.data() - buffer_.data()), static_cast<uint32_t>(value.size())});
}

void HeaderBlock::appendTo(std::string& out) const {
  size_t at = out.size();
  out.resize(at + serializedSize());
  char* p = out.data() + at;
  for (const Slot& s : fields_) {
    std::memcpy(p, buffer_.data() + s.name, s.name_length);
    p += s.name_length;
    *p++ = ':';
    *p++ = ' ';
    std::memcpy(p, buffer_.data() + s.value, s.value_length);
    p += s.value_length;
    *p++ = '\r';
    *p++ = '\n';
  }
}

size_t HeaderBlock::serializedSize() const {
  size_t n = 0;
  for (const Slot& s : fields_) n += s.name_length + s.value_length + 4;
  return n;
}

void appendSerializedFields(std::string_view lines, HeaderBlock& out) {
  while (!lines.empty()) {
    size_t eol = lines.find("\r\n");
    std::string_view line = lines.substr(0, eol);
    lines.remove_prefix(eol == std::string_view::npos ? lines.size() : eol + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    out.add(line.substr(0, colon), trimOws(line.substr(colon + 1)));
  }
}

}  // namespace perfgate

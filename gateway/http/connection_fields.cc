#include "gateway/http/connection_fields.h"

#include "gateway/http/tokens.h"

namespace perfgate {

bool ConnectionOptions::namesField(std::string_view name) const {
  if (!any_) return false;
  bool named = false;
  fields_->forEach("connection", [&](std::string_view value) { named = named || hasToken(value, name); });
  return named;
}

bool isHopByHop(std::string_view name) {
  if (startsWithIgnoreCase(name, "proxy-")) return true;
  switch (name.size()) {
    case 2:
      return equalsIgnoreCase(name, "te");
    case 7:
      return equalsIgnoreCase(name, "trailer") || equalsIgnoreCase(name, "upgrade");
    case 10:
      return equalsIgnoreCase(name, "connection") || equalsIgnoreCase(name, "keep-alive");
    case 14:
      return equalsIgnoreCase(name, "http2-settings");
    case 17:
      return equalsIgnoreCase(name, "transfer-encoding");
    default:
      return false;
  }
}

}  // namespace perfgate

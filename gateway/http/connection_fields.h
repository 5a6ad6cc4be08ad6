// Fields that describe one connection rather than the message (RFC 9110 §7.6.1): never
// forwarded, never stored.
#pragma once

#include <string_view>

#include "gateway/http/header_block.h"

namespace perfgate {

// True for the fields that describe one connection and must never be forwarded:
// Connection, Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade, HTTP2-Settings, Proxy-*.
bool isHopByHop(std::string_view name);

// The field names that Connection fields list (RFC 9110 §7.6.1): they are hop-by-hop too.
class ConnectionOptions {
 public:
  explicit ConnectionOptions(const HeaderBlock& fields) : fields_(&fields), any_(fields.has("connection")) {}
  bool namesField(std::string_view name) const;

 private:
  const HeaderBlock* fields_;
  bool any_ = false;
};

}  // namespace perfgate

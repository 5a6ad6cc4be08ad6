#include "filters/filter.h"

namespace perfgate {

const char* gatewayErrorName(GatewayError kind) {
  switch (kind) {
    case GatewayError::None: return "";
    case GatewayError::UpstreamTimeout: return "timeout";
    case GatewayError::UpstreamRefused: return "refused";
    case GatewayError::UpstreamReset: return "reset";
    case GatewayError::UpstreamParse: return "parse";
    case GatewayError::UpstreamOther: return "upstream_other";
    case GatewayError::ClientTimeout: return "client_timeout";
    case GatewayError::ClientRejected: return "client_rejected";
    case GatewayError::kCount: break;
  }
  return "unknown";
}

}  // namespace perfgate

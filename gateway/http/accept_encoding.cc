#include "gateway/http/accept_encoding.h"

#include <algorithm>
#include <optional>
#include "gateway/http/tokens.h"

namespace perfgate {
namespace {

// RFC 9110 §12.4.2 weight: "0", "1", "0.ddd", "1.000"; nullopt when malformed.
std::optional<int> parseWeight(std::string_view text) {
  if (text.empty() || text.size() > 5 || (text[0] != '0' && text[0] != '1')) return std::nullopt;
  int thousandths = (text[0] - '0') * 1000;
  if (text.size() == 1) return thousandths;
  if (text[1] != '.') return std::nullopt;
  int scale = 100;
  for (size_t i = 2; i < text.size(); ++i, scale /= 10) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    thousandths += (text[i] - '0') * scale;
  }
  return thousandths > 1000 ? std::nullopt : std::optional<int>(thousandths);
}

}  // namespace

bool prefersGzip(const HeaderBlock& request_fields) {
  std::optional<int> gzip;      // weights in thousandths, when named
  std::optional<int> identity;
  std::optional<int> any;
  for (const HeaderField& field : request_fields) {
    if (!equalsIgnoreCase(field.name, "accept-encoding")) continue;
    forEachListElement(field.value, [&](std::string_view element) {
      size_t semicolon = element.find(';');
      std::string_view coding = trimOws(element.substr(0, semicolon));
      int weight = 1000;
      while (semicolon != std::string_view::npos) {
        element.remove_prefix(semicolon + 1);
        semicolon = element.find(';');
        std::string_view parameter = trimOws(element.substr(0, semicolon));
        if (parameter.size() >= 2 && (parameter[0] == 'q' || parameter[0] == 'Q') && parameter[1] == '=') {
          std::optional<int> parsed = parseWeight(trimOws(parameter.substr(2)));
          if (!parsed) return;  // an invalid weight: the element is ignored
          weight = *parsed;
        }
      }
      if (equalsIgnoreCase(coding, "gzip") || equalsIgnoreCase(coding, "x-gzip")) {
        gzip = std::max(gzip.value_or(0), weight);
      } else if (equalsIgnoreCase(coding, "identity")) {
        identity = std::max(identity.value_or(0), weight);
      } else if (coding == "*") {
        any = std::max(any.value_or(0), weight);
      }
    });
  }
  int gzip_weight = gzip ? *gzip : any.value_or(0);
  return gzip_weight > 0 && (!identity || gzip_weight >= *identity);
}

}  // namespace perfgate

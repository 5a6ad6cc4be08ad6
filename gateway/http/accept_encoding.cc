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

AcceptEncoding parseAcceptEncoding(const HeaderBlock& request_fields) {
  std::array<std::optional<int>, kContentCodings> named;  // weights of the codings named
  std::optional<int> any;
  AcceptEncoding accept;
  for (const HeaderField& field : request_fields) {
    if (!equalsIgnoreCase(field.name, "accept-encoding")) continue;
    accept.present = true;
    forEachListElement(field.value, [&](std::string_view element) {
      size_t semicolon = element.find(';');
      std::string_view token = trimOws(element.substr(0, semicolon));
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
      std::optional<int>* slot = nullptr;
      if (token == "*") {
        slot = &any;
      } else if (std::optional<ContentCoding> coding = parseCoding(token)) {
        slot = &named[codingIndex(*coding)];
      } else {
        return;
      }
      *slot = std::max(slot->value_or(0), weight);
    });
  }
  for (size_t i = 0; i < kContentCodings; ++i) accept.weight[i] = named[i] ? *named[i] : any.value_or(0);
  size_t identity = codingIndex(ContentCoding::Identity);
  accept.identity_named = named[identity].has_value();
  if (!named[identity] && !any) accept.weight[identity] = 1000;
  return accept;
}

ContentCoding chooseCoding(const AcceptEncoding& accept, std::span<const ContentCoding> offered) {
  if (!accept.present) return ContentCoding::Identity;
  ContentCoding best = ContentCoding::Identity;
  int best_weight = 0;
  for (ContentCoding coding : offered) {
    int weight = accept.weight[codingIndex(coding)];
    if (coding != ContentCoding::Identity && weight > best_weight) {
      best = coding;
      best_weight = weight;
    }
  }
  if (accept.identity_named && accept.weight[codingIndex(ContentCoding::Identity)] > best_weight) {
    return ContentCoding::Identity;
  }
  return best;
}

}  // namespace perfgate

#include "gateway/exchange/forwarding.h"

#include <algorithm>

#include "gateway/http/tokens.h"

namespace perfgate {
namespace {

void appendField(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

// Framing and routing fields the gateway sets itself from what it knows, never copied.
bool isSetByGateway(std::string_view name) {
  return equalsIgnoreCase(name, "host") || equalsIgnoreCase(name, "content-length") ||
         equalsIgnoreCase(name, "expect");
}

// Fields a front proxy sets to say where a request came from (RFC 7239 Forwarded and the de facto
// X-Forwarded-*, X-Real-IP, X-Host family). From a client they are forgeries that backends act on
// (absolute links, redirects, access rules) while the cache key ignores them: dropped, unless
// the upstream trusts the proxy in front of the gateway. X-Forwarded-For is appended to instead.
bool isForwardingField(std::string_view name) {
  if (startsWithIgnoreCase(name, "x-forwarded-")) return !equalsIgnoreCase(name, "x-forwarded-for");
  return equalsIgnoreCase(name, "forwarded") || equalsIgnoreCase(name, "x-host") ||
         equalsIgnoreCase(name, "x-real-ip") || equalsIgnoreCase(name, "x-original-host") ||
         equalsIgnoreCase(name, "x-client-ip") || equalsIgnoreCase(name, "true-client-ip");
}

// A name that reads as a hop-by-hop or gateway-set field once '_' is taken for '-'
// ("Transfer_Encoding", "Content_Length", "X_Forwarded_Host"). Servers that map both to one
// variable (CGI and the frameworks built like it) would act on it as the real field: a second
// framing behind the gateway's back, or a forged host.
bool isUnderscoreLookalike(std::string_view name) {
  if (name.find('_') == std::string_view::npos) return false;
  std::string dashed(name);
  std::replace(dashed.begin(), dashed.end(), '_', '-');
  return isHopByHop(dashed) || isSetByGateway(dashed) || isForwardingField(dashed) ||
         equalsIgnoreCase(dashed, "x-forwarded-for");
}

}  // namespace

void buildUpstreamRequest(const RequestHead& request, const UpstreamConfig& upstream, std::string_view client_ip,
                          bool original_path, UpstreamRequest& out) {
  out.method.assign(request.method);
  out.head = request.isHead();
  std::string_view target = request.target == "*" ? std::string_view("/") : request.target;
  out.target.assign(upstream.base_path);
  if (request.path_changed && !original_path) {
    out.target.append(request.path);
    if (!request.query.empty() || target.find('?') != std::string_view::npos) {
      out.target.push_back('?');
      out.target.append(request.query);
    }
  } else {
    out.target.append(target);
  }
  out.has_body = request.framing != BodyFraming::None;
  out.body_length = request.framing == BodyFraming::ContentLength
                        ? static_cast<int64_t>(request.content_length) : -1;

  ConnectionOptions options(request.headers);
  bool trusted = upstream.trust_forwarded;
  std::string forwarded_for;
  std::string_view forwarded_host;
  std::string_view forwarded_proto;
  HeaderBlock& h = out.headers;
  h.clear();
  for (HeaderField field : request.headers) {
    std::string_view name = field.name;
    if (isHopByHop(name) || options.namesField(name)) continue;
    if (isSetByGateway(name) || isUnderscoreLookalike(name)) continue;
    if (equalsIgnoreCase(name, "x-forwarded-for")) {
      if (!forwarded_for.empty()) forwarded_for.append(", ");
      forwarded_for.append(field.value);
      continue;
    }
    if (isForwardingField(name)) {
      if (!trusted) continue;
      // A trusted front proxy's own view of host and scheme wins over ours.
      if (equalsIgnoreCase(name, "x-forwarded-host")) {
        if (forwarded_host.empty()) forwarded_host = field.value;
        continue;
      }
      if (equalsIgnoreCase(name, "x-forwarded-proto")) {
        if (forwarded_proto.empty()) forwarded_proto = field.value;
        continue;
      }
    }
    h.add(name, field.value);
  }

  std::string_view host;
  switch (upstream.host_mode) {
    case HostHeaderMode::Client: host = request.host.empty() ? std::string_view(upstream.authority) : request.host; break;
    case HostHeaderMode::Upstream: host = upstream.authority; break;
    case HostHeaderMode::Fixed: host = upstream.host_value; break;
  }
  h.add("Host", host);
  if (!forwarded_for.empty()) forwarded_for.append(", ");
  forwarded_for.append(client_ip);
  h.add("X-Forwarded-For", forwarded_for);
  h.add("X-Forwarded-Proto", forwarded_proto.empty() ? std::string_view("http") : forwarded_proto);
  if (!forwarded_host.empty()) {
    h.add("X-Forwarded-Host", forwarded_host);
  } else if (!request.host.empty()) {
    h.add("X-Forwarded-Host", request.host);
  }
  h.add("Via", request.version == HttpVersion::Http10 ? "1.0 perfgate" : "1.1 perfgate");
}

namespace {

void appendStatusLine(std::string& out, const ResponseHead& response) {
  out.append("HTTP/1.1 ");
  out.append(std::to_string(response.status));
  out.push_back(' ');
  out.append(response.reason);
  out.append("\r\n");
}

}  // namespace

void writeInterimHead(const ResponseHead& response, std::string& out) {
  appendStatusLine(out, response);
  ConnectionOptions options(response.headers);
  for (HeaderField field : response.headers) {
    std::string_view name = field.name;
    if (isHopByHop(name) || options.namesField(name) || equalsIgnoreCase(name, "content-length") ||
        equalsIgnoreCase(name, "transfer-encoding")) {
      continue;
    }
    appendField(out, name, field.value);
  }
  out.append("\r\n");
}

ClientFraming writeClientResponseHead(const ResponseHead& response, const RequestHead& request, bool& keep_alive,
                                      std::string& out) {
  out.clear();
  appendStatusLine(out, response);

  ConnectionOptions options(response.headers);
  bool chunked_upstream = false;
  std::string_view content_length;
  for (HeaderField field : response.headers) {
    std::string_view name = field.name;
    if (equalsIgnoreCase(name, "transfer-encoding")) {
      chunked_upstream = true;
      continue;
    }
    if (isHopByHop(name) || options.namesField(name)) continue;
    if (equalsIgnoreCase(name, "content-length")) {
      content_length = field.value;
      continue;
    }
    appendField(out, name, field.value);
  }
  out.append("Via: 1.1 perfgate\r\n");

  // RFC 9112 §6.3: no body for HEAD, 1xx, 204 and 304; Transfer-Encoding wins over Content-Length.
  bool no_body = request.isHead() || response.status == 204 || response.status == 304 || response.status < 200;
  ClientFraming framing;
  if (!content_length.empty() && !chunked_upstream) {
    appendField(out, "Content-Length", content_length);
    if (!no_body) {
      framing.framing = BodyFramingOut::Length;
      // The parsers let only digits through; a value too large to hold is no length to plan by.
      framing.length = parseDecimal(content_length).value_or(0);
    }
  } else if (no_body) {
    framing.framing = BodyFramingOut::None;
  } else if (request.version == HttpVersion::Http11) {
    out.append("Transfer-Encoding: chunked\r\n");
    framing.framing = BodyFramingOut::Chunked;
  } else {
    framing.framing = BodyFramingOut::UntilClose;
    keep_alive = false;
  }
  if (!keep_alive) {
    out.append("Connection: close\r\n");
  } else if (request.version == HttpVersion::Http10) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
  return framing;
}

}  // namespace perfgate

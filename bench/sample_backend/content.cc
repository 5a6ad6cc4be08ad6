#include "content.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstring>

#include "deflate.h"
#include "images.h"

namespace sample_backend {
namespace {

const char* const kWords[] = {
    "gateway", "latency", "cache", "backend", "request", "response", "header", "compression",
    "throughput", "connection", "keep-alive", "origin", "upstream", "monitor", "route", "policy",
    "benchmark", "payload", "session", "catalog", "inventory", "shipment", "customer", "invoice",
};
constexpr size_t kWordCount = sizeof(kWords) / sizeof(kWords[0]);

// A tiny deterministic generator so that generated text is stable across runs.
struct Lcg {
  uint64_t state;
  uint32_t next() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint32_t>(state >> 33);
  }
  const char* word() { return kWords[next() % kWordCount]; }
};

std::string sentence(Lcg& rng, int words) {
  std::string s;
  for (int i = 0; i < words; ++i) {
    if (i) s += ' ';
    s += rng.word();
  }
  s[0] = static_cast<char>(s[0] - 32);
  s += '.';
  return s;
}

// A realistic account document padded to exactly `bytes` bytes through its "note" field.
std::string accountJson(int id, size_t bytes) {
  char head[640];
  int n = std::snprintf(
      head, sizeof head,
      "{\"id\":%d,\"type\":\"account\",\"name\":\"Ada Lovelace\",\"email\":\"ada.lovelace@example.com\","
      "\"plan\":\"enterprise\",\"active\":true,\"created\":\"2023-11-05T09:14:00Z\","
      "\"roles\":[\"admin\",\"billing\",\"support\"],"
      "\"limits\":{\"requests_per_minute\":1200,\"storage_mb\":5120,\"seats\":25},"
      "\"address\":{\"street\":\"12 Analytical Row\",\"city\":\"London\",\"postcode\":\"NW1 6XE\","
      "\"country\":\"GB\"},\"preferences\":{\"locale\":\"en-GB\",\"timezone\":\"Europe/London\","
      "\"newsletter\":false,\"theme\":\"dark\"},\"usage\":{\"requests_today\":48213,"
      "\"bandwidth_mb\":731.4,\"errors\":3},\"note\":\"",
      id);
  std::string s(head, static_cast<size_t>(n));
  const std::string tail = "\"}";
  Lcg rng{static_cast<uint64_t>(id)};
  std::string filler;
  while (s.size() + filler.size() + tail.size() < bytes) {
    filler += sentence(rng, 6);
    filler += ' ';
  }
  filler.resize(bytes - s.size() - tail.size());
  if (!filler.empty()) filler.back() = '.';
  return s + filler + tail;
}

std::string pageHtml() {
  Lcg rng{42};
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
       "<title>Catalog - perfgate sample shop</title>\n"
       "<link rel=\"stylesheet\" href=\"/static/app.css\">\n"
       "<script defer src=\"/static/app.js\"></script>\n</head>\n<body class=\"catalog\">\n"
       "<header class=\"site-header\">\n  <a class=\"logo\" href=\"/\">Sample Shop</a>\n"
       "  <nav class=\"main-nav\">\n    <ul>\n";
  const char* nav[] = {"Home", "Catalog", "Offers", "Orders", "Account", "Help"};
  for (const char* item : nav) {
    h += "      <li class=\"nav-item\"><a href=\"/";
    h += item;
    h += "\">";
    h += item;
    h += "</a></li>\n";
  }
  h += "    </ul>\n  </nav>\n</header>\n<main id=\"content\">\n  <h1>Catalog</h1>\n"
       "  <section class=\"product-grid\">\n";
  int id = 1;
  while (h.size() < 19700) {
    char card[512];
    std::snprintf(card, sizeof card,
                  "    <article class=\"product-card\" data-id=\"%d\">\n"
                  "      <img src=\"/static/img/product-%d.jpg\" alt=\"Product %d\" width=\"240\" height=\"180\" loading=\"lazy\">\n"
                  "      <h2 class=\"product-title\"><a href=\"/api/items/%d\">Product %d</a></h2>\n"
                  "      <p class=\"product-price\"><span class=\"currency\">EUR</span> %d.%02d</p>\n",
                  id, id, id, id, id, 9 + (id * 7) % 90, (id * 13) % 100);
    h += card;
    h += "      <p class=\"product-description\">";
    h += sentence(rng, 14);
    h += ' ';
    h += sentence(rng, 10);
    h += "</p>\n      <button class=\"btn btn-primary add-to-cart\" type=\"button\">Add to cart</button>\n"
         "    </article>\n";
    ++id;
  }
  h += "  </section>\n</main>\n<footer class=\"site-footer\">\n"
       "  <p>&copy; 2024 Sample Shop. Served by perfgate-sample-backend.</p>\n</footer>\n</body>\n</html>\n";
  return h;
}

std::string appJs() {
  Lcg rng{7};
  std::string js = "/* sample shop front-end bundle (generated) */\n\"use strict\";\n"
                   "const API_BASE = \"/api\";\nconst state = { cart: [], user: null, items: new Map() };\n\n";
  int i = 0;
  while (js.size() < 30000) {
    const char* w = rng.word();
    char fn[1024];
    std::snprintf(fn, sizeof fn,
                  "export async function load_%s_%d(options = {}) {\n"
                  "  const params = new URLSearchParams({ page: String(options.page || 1), limit: \"%d\" });\n"
                  "  const response = await fetch(`${API_BASE}/items?${params}`, { headers: { Accept: \"application/json\" } });\n"
                  "  if (!response.ok) {\n"
                  "    throw new Error(`load_%s_%d failed: ${response.status}`);\n"
                  "  }\n"
                  "  const data = await response.json();\n"
                  "  for (const item of data.items || []) {\n"
                  "    state.items.set(item.id, { ...item, source: \"%s\", loadedAt: Date.now() });\n"
                  "  }\n"
                  "  render_%s_%d(document.querySelector(\"#content\"), data);\n"
                  "  return data;\n"
                  "}\n\n"
                  "function render_%s_%d(root, data) {\n"
                  "  if (!root) return;\n"
                  "  const list = document.createElement(\"ul\");\n"
                  "  list.className = \"list-%s\";\n"
                  "  for (const item of data.items || []) {\n"
                  "    const li = document.createElement(\"li\");\n"
                  "    li.textContent = `${item.name} - ${item.price}`;\n"
                  "    list.appendChild(li);\n"
                  "  }\n"
                  "  root.replaceChildren(list);\n"
                  "}\n\n",
                  w, i, 10 + i % 40, w, i, w, w, i, w, i, w);
    js += fn;
    ++i;
  }
  js += "document.addEventListener(\"DOMContentLoaded\", () => load_gateway_0().catch(console.error));\n";
  return js;
}

// ---------------------------------------------------------------- /assets/bundle.js

// The vocabulary of the generated bundle's identifiers, class names and messages: a shop front
// end's (cart, checkout, catalog, account) beside a UI framework's and its utilities'.
const char* const kJsWords[] = {
    "account", "action", "active", "add", "address", "amount", "analytics", "animation", "api",
    "apply", "async", "auth", "avatar", "badge", "banner", "basket", "billing", "block", "body",
    "brand", "breakpoint", "button", "cache", "callback", "card", "carousel", "cart", "category",
    "cell", "change", "channel", "checkout", "child", "city", "clear", "click", "close", "code",
    "collapse", "color", "column", "commit", "component", "config", "consent", "container",
    "content", "context", "country", "coupon", "create", "currency", "cursor", "customer", "data",
    "date", "debounce", "delay", "delivery", "detail", "dialog", "disabled", "discount", "dismiss",
    "dispatch", "display", "document", "draft", "drawer", "dropdown", "effect", "element", "email",
    "empty", "enabled", "entry", "error", "estimate", "event", "expand", "feature", "fetch",
    "field", "filter", "flag", "focus", "footer", "form", "format", "frame", "gallery", "grid",
    "group", "handler", "hash", "header", "height", "hidden", "history", "hook", "hover", "icon",
    "image", "index", "init", "input", "inventory", "invoice", "item", "key", "label", "language",
    "layout", "lazy", "limit", "line", "link", "list", "load", "loader", "locale", "location",
    "login", "logout", "main", "map", "media", "menu", "merge", "message", "meta", "metric",
    "modal", "module", "mount", "name", "nav", "node", "notice", "number", "observer", "offset",
    "open", "option", "order", "origin", "overlay", "page", "panel", "param", "parse", "password",
    "path", "payment", "pending", "phone", "picker", "pixel", "placeholder", "plugin", "popover",
    "position", "postcode", "preview", "price", "primary", "product", "promise", "promo", "props",
    "provider", "quantity", "query", "queue", "radio", "range", "rating", "reducer", "ref",
    "refresh", "region", "register", "remove", "render", "request", "reset", "resize", "resolve",
    "response", "result", "review", "route", "row", "schema", "scroll", "search", "section",
    "select", "selector", "session", "shipping", "size", "skeleton", "sku", "slide", "slot", "sort",
    "source", "spinner", "state", "status", "step", "stock", "storage", "store", "stream", "style",
    "submit", "subscription", "summary", "swatch", "tab", "table", "tax", "template", "text",
    "theme", "thumbnail", "timer", "title", "toast", "toggle", "token", "tooltip", "total", "track",
    "transition", "trigger", "update", "upload", "url", "user", "validate", "value", "variant",
    "view", "viewport", "visible", "voucher", "warning", "width", "window", "wishlist", "zone",
};
constexpr uint32_t kJsWordCount = sizeof(kJsWords) / sizeof(kJsWords[0]);

// Appends to one string, each random choice in its own statement, so that the bytes do not
// depend on a compiler's order of evaluating arguments.
class BundleWriter {
 public:
  explicit BundleWriter(uint64_t seed) : rng_{seed} {}

  std::string take() { return std::move(out_); }
  size_t size() const { return out_.size(); }
  void raw(std::string_view s) { out_ += s; }

  // One module of the chunk: `ID:function(e,t,n){...}`, exporting what it defines.
  void module() {
    // A module is about one thing: most of its words come from a topic of a few, and its
    // property and class names from a pool it reuses, as real code does.
    topic_.clear();
    props_.clear();
    classes_.clear();
    const uint32_t topic_words = 4 + pick(5);
    for (uint32_t i = 0; i < topic_words; ++i) topic_.push_back(kJsWords[pick(kJsWordCount)]);
    const uint32_t props = 6 + pick(8);
    for (uint32_t i = 0; i < props; ++i) props_.push_back(camel(1 + pick(2)));
    const uint32_t classes = 3 + pick(4);
    for (uint32_t i = 0; i < classes; ++i) classes_.push_back(freshClassName());
    out_ += std::to_string(1000 + pick(89000));
    out_ += ":function(e,t,n){\"use strict\";";
    const uint32_t functions = 2 + pick(4);
    std::vector<std::string> names;
    for (uint32_t i = 0; i < functions; ++i) {
      const char* verb = i % 3 == 0 ? "" : verbWord();
      const uint32_t parts = 1 + pick(3);
      names.push_back(camel(parts, verb));
    }
    out_ += "n.d(t,{";
    for (uint32_t i = 0; i < functions; ++i) {
      if (i) out_ += ',';
      out_ += static_cast<char>('A' + i);
      out_ += ":function(){return ";
      out_ += names[i];
      out_ += "}";
    }
    out_ += "});var r=n(";
    out_ += std::to_string(1000 + pick(89000));
    out_ += "),o=n.n(r),a=n(";
    out_ += std::to_string(1000 + pick(89000));
    out_ += ");";
    if (pick(2) == 0) constants();
    for (const std::string& name : names) function(name);
    out_ += "}";
  }

 private:
  static constexpr const char* kVerbs[] = {"get", "set", "use", "is", "has", "on", "handle", "create",
                                           "to", "with", "format", "update", "render", "fetch", "should"};
  static constexpr uint32_t kVerbCount = sizeof(kVerbs) / sizeof(kVerbs[0]);
  static constexpr const char* kLocals[] = {"e", "t", "n", "r", "o", "a", "i", "s", "c", "l", "u", "d", "f", "p"};

  uint32_t pick(uint32_t n) { return rng_.next() % n; }
  const char* word() {
    if (!topic_.empty() && pick(6) != 0) return topic_[pick(static_cast<uint32_t>(topic_.size()))];
    return kJsWords[pick(kJsWordCount)];
  }
  const char* verbWord() { return kVerbs[pick(kVerbCount)]; }
  const std::string& prop() { return props_[pick(static_cast<uint32_t>(props_.size()))]; }

  // "cartItemPrice" (with a verb: "getCartItemPrice").
  std::string camel(uint32_t parts, std::string_view verb = {}) {
    std::string s(verb);
    for (uint32_t i = 0; i < parts; ++i) {
      std::string w = word();
      if (i > 0 || !s.empty()) w[0] = static_cast<char>(w[0] - 32);
      s += w;
    }
    return s;
  }
  std::string className() {
    if (!classes_.empty() && pick(5) != 0) return classes_[pick(static_cast<uint32_t>(classes_.size()))];
    return freshClassName();
  }
  // "cart-item__price--active", a CSS class as a component library names them.
  std::string freshClassName() {
    std::string s = word();
    s += '-';
    s += word();
    if (pick(2) == 0) {
      s += "__";
      s += word();
    }
    if (pick(3) == 0) {
      s += "--";
      s += word();
    }
    return s;
  }
  std::string local() { return kLocals[pick(depth_locals_)]; }

  void string() {
    switch (pick(6)) {
      case 0:
        out_ += '"';
        out_ += className();
        out_ += '"';
        break;
      case 1: {  // an i18n key
        out_ += '"';
        out_ += word();
        out_ += '.';
        out_ += camel(1 + pick(2));
        out_ += '.';
        out_ += word();
        out_ += '"';
        break;
      }
      case 2: {  // a message
        out_ += "\"";
        std::string first = word();
        first[0] = static_cast<char>(first[0] - 32);
        out_ += first;
        const uint32_t words = 1 + pick(4);
        for (uint32_t i = 0; i < words; ++i) {
          out_ += ' ';
          out_ += word();
        }
        out_ += pick(2) ? ": \"" : "\"";
        break;
      }
      case 3:  // an API path
        out_ += "\"/api/v";
        out_ += std::to_string(1 + pick(3));
        out_ += '/';
        out_ += word();
        out_ += "s/\"";
        break;
      case 4: {  // an action type
        out_ += '"';
        std::string a = word(), b = word();
        for (char& ch : a) ch = ch == '-' ? '_' : static_cast<char>(ch - 32);
        for (char& ch : b) ch = ch == '-' ? '_' : static_cast<char>(ch - 32);
        out_ += a;
        out_ += '_';
        out_ += b;
        out_ += '"';
        break;
      }
      default:
        out_ += '"';
        out_ += word();
        out_ += '"';
    }
  }
  void number() {
    switch (pick(5)) {
      case 0: out_ += std::to_string(pick(10)); break;
      case 1: out_ += std::to_string(pick(4) == 0 ? pick(1000) : 10 * pick(30)); break;
      case 2: out_ += pick(2) ? "!0" : "!1"; break;
      case 3: {
        if (pick(4) != 0) {
          out_ += std::to_string(pick(100));
          break;
        }
        char hex[16];
        std::snprintf(hex, sizeof hex, "0x%x", pick(65536));
        out_ += hex;
        break;
      }
      default: out_ += pick(2) ? "null" : "void 0";
    }
  }
  void member() {
    out_ += local();
    out_ += '.';
    if (pick(5) == 0) {
      out_ += camel(1 + pick(2));
    } else {
      out_ += prop();
    }
    if (pick(4) == 0) {
      out_ += '.';
      out_ += prop();
    }
  }
  void expr(int depth) {
    const uint32_t kind = depth >= 3 ? pick(4) : pick(12);
    switch (kind) {
      case 0: out_ += local(); break;
      case 1: member(); break;
      case 2: string(); break;
      case 3: number(); break;
      case 4:
      case 5: {  // a call
        if (pick(2) == 0) {
          out_ += "(0,a.";
          const char* verb = verbWord();
          const uint32_t parts = 1 + pick(2);
          out_ += camel(parts, verb);
          out_ += ")(";
        } else {
          member();
          out_ += '(';
        }
        const uint32_t args = pick(3);
        for (uint32_t i = 0; i < args; ++i) {
          if (i) out_ += ',';
          expr(depth + 1);
        }
        out_ += ')';
        break;
      }
      case 6:  // a binary operation
        expr(depth + 1);
        out_ += kOperators[pick(kOperatorCount)];
        expr(depth + 1);
        break;
      case 7:  // a conditional
        expr(depth + 1);
        out_ += '?';
        expr(depth + 1);
        out_ += ':';
        expr(depth + 1);
        break;
      case 8: {  // an object literal
        out_ += '{';
        const uint32_t keys = 1 + pick(4);
        for (uint32_t i = 0; i < keys; ++i) {
          if (i) out_ += ',';
          if (pick(5) == 0) {
            out_ += "\"aria-";
            out_ += word();
            out_ += '"';
          } else {
            out_ += camel(1 + pick(2));
          }
          out_ += ':';
          expr(depth + 1);
        }
        out_ += '}';
        break;
      }
      case 9:  // an element, React style
        out_ += "o().createElement(\"";
        out_ += kTags[pick(kTagCount)];
        out_ += "\",{className:\"";
        out_ += className();
        out_ += "\"},";
        expr(depth + 1);
        out_ += ')';
        break;
      case 10:  // a callback
        out_ += "function(";
        out_ += local();
        out_ += "){return ";
        expr(depth + 1);
        out_ += '}';
        break;
      default:  // an array
        out_ += '[';
        expr(depth + 1);
        out_ += ',';
        expr(depth + 1);
        out_ += ']';
    }
  }
  void statement(int depth) {
    // Nested blocks stop at depth 2.
    const uint32_t kind = depth >= 2 ? pick(8) : pick(13);
    switch (kind) {
      case 0: {
        out_ += "var ";
        out_ += local();
        out_ += '=';
        expr(0);
        if (pick(2) == 0) {
          out_ += ',';
          out_ += local();
          out_ += '=';
          expr(1);
        }
        out_ += ';';
        break;
      }
      case 1:
        member();
        out_ += '=';
        expr(0);
        out_ += ';';
        break;
      case 2:
        out_ += "if(";
        expr(1);
        out_ += ")return ";
        expr(1);
        out_ += ';';
        break;
      case 3: {
        // An expression statement may not begin with `function` or `{`: parenthesised.
        const size_t at = out_.size();
        expr(0);
        if (out_[at] == '{' || out_.compare(at, 8, "function") == 0) {
          out_.insert(at, 1, '(');
          out_ += ')';
        }
        out_ += ';';
        break;
      }
      case 4:
      case 5:
      case 6:
      case 7:
        idiom();
        break;
      case 8:
        out_ += "if(";
        expr(1);
        out_ += "){";
        statements(depth + 1);
        out_ += "}else{";
        statements(depth + 1);
        out_ += '}';
        break;
      case 9:
        out_ += "for(var i=0;i<";
        member();
        out_ += ".length;i++){";
        statements(depth + 1);
        out_ += '}';
        break;
      case 10: {
        out_ += "switch(e.type){";
        const uint32_t cases = 2 + pick(4);
        for (uint32_t i = 0; i < cases; ++i) {
          out_ += "case ";
          string();
          out_ += ":return ";
          expr(1);
          out_ += ';';
        }
        out_ += "default:return e}";
        break;
      }
      case 11:
        out_ += "try{";
        statements(depth + 1);
        out_ += "}catch(x){console.warn(";
        string();
        out_ += ",x)}";
        break;
      default:  // 12
        out_ += "throw new Error(";
        string();
        out_ += "+";
        member();
        out_ += ");";
    }
  }
  // What front-end code says over and over: state hooks, event handlers, copies of objects,
  // list mapping and filtering, class name joins.
  void idiom() {
    switch (pick(7)) {
      case 0:
        out_ += "var ";
        out_ += local();
        out_ += "=(0,r.useState)(";
        number();
        out_ += "),";
        out_ += prop();
        out_ += '=';
        out_ += local();
        out_ += "[0],";
        out_ += camel(1, "set");
        out_ += '=';
        out_ += local();
        out_ += "[1];";
        break;
      case 1:
        out_ += "e.preventDefault(),e.stopPropagation();";
        break;
      case 2:
        out_ += "return Object.assign({},e,{";
        out_ += prop();
        out_ += ":t.payload,";
        out_ += prop();
        out_ += ":!1});";
        break;
      case 3:
        out_ += "var ";
        out_ += local();
        out_ += '=';
        member();
        out_ += ".map(function(e){return e.";
        out_ += prop();
        out_ += "}).filter(Boolean);";
        break;
      case 4:
        out_ += "(0,r.useEffect)(function(){";
        statement(2);
        out_ += "return function(){";
        member();
        out_ += "=null}},[";
        out_ += prop();
        out_ += "]);";
        break;
      case 5:
        out_ += "var ";
        out_ += local();
        out_ += "=o()(\"";
        out_ += className();
        out_ += "\",{\"is-active\":";
        member();
        out_ += ",\"is-disabled\":!";
        member();
        out_ += "});";
        break;
      default:
        out_ += "if(null==";
        member();
        out_ += ")return null;";
    }
  }
  void statements(int depth) {
    const uint32_t n = 1 + pick(depth == 0 ? 6 : 3);
    for (uint32_t i = 0; i < n; ++i) statement(depth);
  }
  void function(const std::string& name) {
    const uint32_t params = 1 + pick(3);
    depth_locals_ = params + 4;
    out_ += "function ";
    out_ += name;
    out_ += '(';
    for (uint32_t i = 0; i < params; ++i) {
      if (i) out_ += ',';
      out_ += kLocals[i];
    }
    out_ += "){";
    statements(0);
    out_ += "return ";
    expr(0);
    out_ += '}';
  }
  void constants() {
    out_ += "var ";
    std::string name = camel(2);
    for (char& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    out_ += name;
    out_ += "={";
    const uint32_t keys = 3 + pick(6);
    for (uint32_t i = 0; i < keys; ++i) {
      if (i) out_ += ',';
      out_ += camel(1 + pick(2));
      out_ += ':';
      if (pick(2)) string(); else number();
    }
    out_ += "};";
  }

  static constexpr const char* kOperators[] = {"+", "-", "*", "===", "!==", "&&", "||", "<", ">=", " instanceof "};
  static constexpr uint32_t kOperatorCount = sizeof(kOperators) / sizeof(kOperators[0]);
  static constexpr const char* kTags[] = {"div", "span", "button", "a", "li", "ul", "img", "p", "section", "input", "label", "svg"};
  static constexpr uint32_t kTagCount = sizeof(kTags) / sizeof(kTags[0]);

  Lcg rng_;
  std::string out_;
  uint32_t depth_locals_ = 4;
  std::vector<const char*> topic_;   // the current module's words
  std::vector<std::string> props_;   // its property names
  std::vector<std::string> classes_; // its CSS classes
};

// /assets/bundle.js: a webpack-style chunk of generated modules, minified (one-letter parameters,
// no indentation), ending after the module that passes kBundleJsBytes. Its identifiers, class
// names, messages, i18n keys and numbers vary as a real bundle's do, so it compresses like one
// (about 3.7x with gzip 6; a repeated template would give 10x and more). It parses as
// JavaScript (node --check) but is not meant to run.
std::string bundleJs() {
  BundleWriter w{20240101};
  w.raw("/*! For license information please see bundle.js.LICENSE.txt */\n"
        "\"use strict\";(self.webpackChunksample_shop=self.webpackChunksample_shop||[]).push([[179],{\n");
  bool first = true;
  while (w.size() < kBundleJsBytes) {
    if (!first) w.raw(",\n");
    first = false;
    w.module();
  }
  w.raw("\n}]);\n");
  return w.take();
}

std::string homeHtml() {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<title>perfgate sample backend</title>\n</head>\n<body>\n"
         "<h1>perfgate sample backend</h1>\n"
         "<p>A deliberately plain backend API for trying perfgate out.</p>\n<ul>\n"
         "  <li><a href=\"/api/items\">/api/items</a> - item list (max-age=30)</li>\n"
         "  <li><a href=\"/api/small\">/api/small</a> - small JSON (max-age=60, ETag)</li>\n"
         "  <li><a href=\"/api/pass\">/api/pass</a> - small JSON, no-store</li>\n"
         "  <li><a href=\"/page\">/page</a> - 20 KB HTML</li>\n"
         "  <li><a href=\"/static/app.js\">/static/app.js</a> - 30 KB JavaScript</li>\n"
         "  <li><a href=\"/assets/bundle.js\">/assets/bundle.js</a> - 200 KB minified JavaScript</li>\n"
         "  <li><a href=\"/__stats\">/__stats</a> - request counters</li>\n"
         "</ul>\n</body>\n</html>\n";
}

std::string itemsJson() {
  std::string s = "{\"page\":1,\"per_page\":20,\"total\":10000,\"items\":[";
  for (int id = 1; id <= 20; ++id) {
    if (id > 1) s += ',';
    s += itemJson(id);
  }
  s += "]}";
  return s;
}

std::array<char, kPatternBlock + kPatternPeriod> makePattern() {
  static const char kLine[kPatternPeriod + 1] =
      "perfgate sample download: 0123456789abcdefghijklmnopqrstuvwxyz.\n";
  static_assert(sizeof(kLine) == kPatternPeriod + 1);
  std::array<char, kPatternBlock + kPatternPeriod> a{};
  for (size_t i = 0; i < a.size(); ++i) a[i] = kLine[i % kPatternPeriod];
  return a;
}


// ---------------------------------------------------------------- the page-load site (/site/)

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h;
}

// "name.1a2b3c4d.ext": the content hash in the name, as bundlers version their output, so that
// the file can be cached for a year (immutable) and a new build gets new URLs.
std::string versioned(std::string_view dir, std::string_view name, std::string_view ext, std::string_view body) {
  char hash[16];
  std::snprintf(hash, sizeof hash, "%08llx", static_cast<unsigned long long>(fnv1a(body) & 0xFFFFFFFFULL));
  return "/site/assets/" + std::string(dir) + "/" + std::string(name) + "." + hash + "." + std::string(ext);
}

std::string siteCss(std::string_view name, uint64_t seed, size_t bytes) {
  static const char* const kDisplay[] = {"flex", "block", "grid", "inline-flex", "inline-block"};
  Lcg rng{seed};
  std::string css = "/* " + std::string(name) + ".css (generated) */\n"
                    ":root{--brand:#2457d6;--ink:#1d2330;--muted:#667085;--radius:6px;--gap:12px}\n";
  int i = 0;
  while (css.size() < bytes) {
    char rule[640];
    const char* word = rng.word();
    int n = std::snprintf(
        rule, sizeof rule,
        ".%.*s-%s-%d{display:%s;margin:%upx %upx;padding:%upx %upx;color:#%06x;background-color:#%06x;"
        "border:1px solid #%06x;border-radius:var(--radius);font-size:%u.%02urem;line-height:1.%u}\n"
        ".%.*s-%s-%d:hover{color:var(--brand);box-shadow:0 %upx %upx rgba(0,0,0,.%u)}\n",
        static_cast<int>(name.size()), name.data(), word, i, kDisplay[rng.next() % 5], rng.next() % 24,
        rng.next() % 24, rng.next() % 16, rng.next() % 32, rng.next() & 0xFFFFFF, rng.next() & 0xFFFFFF,
        rng.next() & 0xFFFFFF, rng.next() % 2, rng.next() % 100, 2 + rng.next() % 6,
        static_cast<int>(name.size()), name.data(), word, i, 1 + rng.next() % 4, 2 + rng.next() % 12,
        1 + rng.next() % 3);
    std::string r(rule, static_cast<size_t>(n));
    if (i % 7 == 6) r = "@media (min-width:" + std::to_string(480 + 160 * (i % 5)) + "px){" + r + "}\n";
    css += r;
    ++i;
  }
  return css;
}

// A classic script that adds functions to window.Shop.MODULE; padded with generated functions to
// about `bytes`. `tail` (the boot code of the app script) comes last.
std::string siteJs(std::string_view module, uint64_t seed, size_t bytes, std::string_view tail = {}) {
  Lcg rng{seed};
  std::string js = "/* " + std::string(module) + ".js (generated) */\n(function (Shop) {\n  \"use strict\";\n  const m = (Shop." +
                   std::string(module) + " = Shop." + std::string(module) + " || {});\n";
  int i = 0;
  while (js.size() + tail.size() < bytes) {
    const char* w = rng.word();
    std::string id(w);
    for (char& c : id) {
      if (c == '-') c = '_';
    }
    char fn[1400];
    int n = std::snprintf(
        fn, sizeof fn,
        "  m.%s_%d = function (items, options) {\n"
        "    const limit = (options && options.limit) || %u;\n"
        "    const out = [];\n"
        "    for (const item of items || []) {\n"
        "      if (item.price > %u && item.stock !== 0) {\n"
        "        out.push({ id: item.id, label: `%s: ${item.name}`, score: item.rating * %u + item.price / %u });\n"
        "      }\n"
        "    }\n"
        "    out.sort((a, b) => b.score - a.score || a.id - b.id);\n"
        "    return out.slice(0, limit);\n"
        "  };\n"
        "  m.format_%s_%d = function (value) {\n"
        "    return new Intl.NumberFormat(\"en-GB\", { style: \"currency\", currency: \"EUR\" }).format(value * %u / 100);\n"
        "  };\n",
        id.c_str(), i, 5 + rng.next() % 40, rng.next() % 150, w, 1 + rng.next() % 9, 1 + rng.next() % 50,
        id.c_str(), i, 90 + rng.next() % 20);
    js.append(fn, static_cast<size_t>(n));
    ++i;
  }
  js += tail;
  js += "})(window.Shop = window.Shop || {});\n";
  return js;
}

// The app's boot code: fetch the item list (the page's API call) and render it; the mark
// "app-ready" tells bench/pageload when the page shows its data.
constexpr std::string_view kAppBoot = R"JS(  function render(data) {
    const root = document.getElementById("live-items");
    const list = document.createElement("ul");
    list.className = "live-list";
    for (const item of data.items || []) {
      const li = document.createElement("li");
      li.className = "live-item";
      li.dataset.id = String(item.id);
      li.textContent = item.name + " - " + item.currency + " " + item.price.toFixed(2) + " (" + item.stock + " in stock)";
      list.appendChild(li);
    }
    root.replaceChildren(list);
    document.documentElement.dataset.items = String((data.items || []).length);
  }
  function done(error) {
    if (error) document.documentElement.dataset.appError = String(error);
    performance.mark("app-ready");
    document.documentElement.dataset.appReady = "1";
  }
  fetch("/api/items", { headers: { Accept: "application/json" } })
    .then((response) => {
      if (!response.ok) throw new Error("/api/items answered " + response.status);
      return response.json();
    })
    .then((data) => { render(data); done(); })
    .catch(done);
)JS";

constexpr std::string_view kAnalytics = R"JS(  m.queue = m.queue || [];
  m.queue.push(["pageview", location.pathname, Date.now()]);
)JS";

std::string siteSvg(std::string_view title, uint64_t seed, int shapes) {
  Lcg rng{seed};
  char color[8];
  std::snprintf(color, sizeof color, "#%06x", rng.next() & 0xFFFFFF);
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 64 64\" width=\"32\" height=\"32\" role=\"img\">\n"
                    "<title>" + std::string(title) + "</title>\n";
  for (int s = 0; s < shapes; ++s) {
    std::string d;
    char point[48];
    std::snprintf(point, sizeof point, "M%u.%u %u.%u", rng.next() % 64, rng.next() % 10, rng.next() % 64,
                  rng.next() % 10);
    d += point;
    for (int k = 0; k < 6; ++k) {
      std::snprintf(point, sizeof point, " C%u.%u %u.%u %u.%u %u.%u %u.%u %u.%u", rng.next() % 64, rng.next() % 10,
                    rng.next() % 64, rng.next() % 10, rng.next() % 64, rng.next() % 10, rng.next() % 64,
                    rng.next() % 10, rng.next() % 64, rng.next() % 10, rng.next() % 64, rng.next() % 10);
      d += point;
    }
    svg += "<path fill=\"" + std::string(color) + "\" fill-opacity=\"0." + std::to_string(3 + rng.next() % 7) +
           "\" d=\"" + d + " Z\"/>\n";
  }
  svg += "</svg>\n";
  return svg;
}

// A photo-like picture: a diagonal gradient between two colours, soft discs, a ripple, and noise
// of amplitude `noise` (what makes a PNG or JPEG large).
images::Rgb sitePhoto(int width, int height, uint64_t seed, int noise) {
  Lcg rng{seed};
  auto channel = [&]() { return static_cast<int>(rng.next() % 256); };
  const int c1[3] = {channel(), channel(), channel()}, c2[3] = {channel(), channel(), channel()};
  struct Disc {
    int x, y, r, color[3];
  };
  Disc discs[6];
  for (Disc& d : discs) {
    d = {static_cast<int>(rng.next() % static_cast<uint32_t>(width)),
         static_cast<int>(rng.next() % static_cast<uint32_t>(height)),
         8 + static_cast<int>(rng.next() % static_cast<uint32_t>(std::max(8, std::min(width, height) / 3))),
         {channel(), channel(), channel()}};
  }
  images::Rgb img(width, height);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const int t = (x + y) * 256 / (width + height);
      int v[3];
      for (int c = 0; c < 3; ++c) v[c] = (c1[c] * (256 - t) + c2[c] * t) / 256;
      for (const Disc& d : discs) {
        const int dx = x - d.x, dy = y - d.y;
        if (dx * dx + dy * dy < d.r * d.r) {
          for (int c = 0; c < 3; ++c) v[c] = (v[c] + d.color[c]) / 2;
        }
      }
      const int ripple = ((x * 7 + y * 3) % 40) / 8;
      uint8_t* p = img.at(x, y);
      for (int c = 0; c < 3; ++c) {
        const int n = noise > 0 ? static_cast<int>(rng.next() % static_cast<uint32_t>(2 * noise + 1)) - noise : 0;
        p[c] = static_cast<uint8_t>(std::clamp(v[c] + ripple + n, 0, 255));
      }
    }
  }
  return img;
}

std::string htmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

Site buildSite() {
  Site site;
  std::vector<std::string> css, js, icons, photos, products;
  std::string analytics;
  auto add = [&](std::string_view dir, std::string_view name, std::string_view ext, std::string type, std::string body) {
    std::string path = versioned(dir, name, ext, body);
    site.assets.push_back({path, std::move(type), std::move(body)});
    return path;
  };
  constexpr const char* kCssType = "text/css; charset=utf-8";
  constexpr const char* kJsType = "application/javascript; charset=utf-8";
  const struct {
    const char* name;
    size_t bytes;
  } kCss[] = {{"base", 6000}, {"layout", 12000}, {"components", 26000}, {"theme", 4000}, {"utilities", 38000}};
  uint64_t seed = 100;
  for (const auto& c : kCss) css.push_back(add("css", c.name, "css", kCssType, siteCss(c.name, ++seed, c.bytes)));
  const struct {
    const char* name;
    size_t bytes;
  } kJs[] = {{"polyfills", 8000}, {"vendor", 60000}, {"framework", 45000}, {"router", 10000}, {"i18n", 14000},
             {"ui", 22000},       {"cart", 9000},    {"search", 12000},    {"product", 16000}};
  for (const auto& j : kJs) js.push_back(add("js", j.name, "js", kJsType, siteJs(j.name, ++seed, j.bytes)));
  js.push_back(add("js", "app", "js", kJsType, siteJs("app", ++seed, 6000, kAppBoot)));
  analytics = add("js", "analytics", "js", kJsType, siteJs("analytics", ++seed, 3000, kAnalytics));
  const struct {
    const char* name;
    int shapes;
  } kIcons[] = {{"logo", 14}, {"search", 4}, {"cart", 5}, {"user", 4}, {"menu", 3}, {"heart", 4}, {"truck", 8}, {"star", 3}};
  for (const auto& i : kIcons) {
    icons.push_back(add("img", std::string("icon-") + i.name, "svg", "image/svg+xml", siteSvg(i.name, ++seed, i.shapes)));
  }
  // Photos (JPEG): the hero banner and five promotions; product shots (PNG) of 4 to 45 KB.
  const struct {
    const char* name;
    int w, h, noise, quality;
  } kPhotos[] = {{"hero", 960, 360, 10, 75},    {"promo-1", 480, 270, 8, 75}, {"promo-2", 480, 270, 12, 75},
                 {"promo-3", 480, 270, 6, 80},  {"promo-4", 360, 240, 10, 75}, {"promo-5", 360, 240, 4, 80}};
  for (const auto& p : kPhotos) {
    photos.push_back(add("img", p.name, "jpg", "image/jpeg", images::jpeg(sitePhoto(p.w, p.h, ++seed, p.noise), p.quality)));
  }
  const int kProductNoise[10] = {0, 0, 1, 2, 3, 5, 8, 12, 1, 4};
  for (int i = 0; i < 10; ++i) {
    products.push_back(add("img", "product-" + std::to_string(i + 1), "png", "image/png",
                           images::png(sitePhoto(160, 120, ++seed, kProductNoise[i]))));
  }

  // The page: about 25 KB of markup that links every asset.
  Lcg rng{4242};
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>Sample Shop - perfgate page-load site</title>\n"
      "<meta name=\"description\" content=\"A generated shop front page: the page-load benchmark of perfgate.\">\n"
      "<meta name=\"perfgate-site-assets\" content=\"" + std::to_string(site.assets.size()) + "\">\n"
      "<link rel=\"icon\" href=\"data:,\">\n";
  for (const std::string& c : css) h += "<link rel=\"stylesheet\" href=\"" + c + "\">\n";
  for (const std::string& j : js) h += "<script defer src=\"" + j + "\"></script>\n";
  h += "<script async src=\"" + analytics + "\"></script>\n</head>\n<body class=\"shop home\">\n"
       "<header class=\"site-header\">\n  <a class=\"logo\" href=\"/site/\"><img src=\"" + icons[0] +
       "\" alt=\"Sample Shop\" width=\"120\" height=\"32\"></a>\n  <nav class=\"main-nav\">\n    <ul>\n";
  const char* const kNav[] = {"New in", "Garden", "Kitchen", "Outdoor", "Toys", "Tools", "Books", "Offers"};
  for (const char* item : kNav) {
    h += std::string("      <li class=\"nav-item\"><a href=\"/site/?category=") + item + "\">" + item + "</a></li>\n";
  }
  h += "    </ul>\n  </nav>\n  <div class=\"header-actions\">\n";
  for (size_t i = 1; i < icons.size(); ++i) {
    h += "    <button class=\"icon-button\" type=\"button\"><img src=\"" + icons[i] + "\" alt=\"\" width=\"24\" height=\"24\"></button>\n";
  }
  h += "  </div>\n</header>\n<main id=\"content\">\n  <section class=\"hero\">\n    <img src=\"" + photos[0] +
       "\" alt=\"Spring collection\" width=\"960\" height=\"360\">\n    <h1>Spring collection</h1>\n    <p>" +
       sentence(rng, 18) + "</p>\n  </section>\n  <section class=\"promotions\">\n";
  for (size_t i = 1; i < photos.size(); ++i) {
    h += "    <article class=\"promo\">\n      <img src=\"" + photos[i] + "\" alt=\"Promotion " + std::to_string(i) +
         "\" width=\"480\" height=\"270\">\n      <h2>" + htmlEscape(sentence(rng, 3)) + "</h2>\n      <p>" +
         sentence(rng, 16) + "</p>\n    </article>\n";
  }
  h += "  </section>\n  <section class=\"product-grid\">\n";
  for (size_t i = 0; i < products.size(); ++i) {
    const int id = static_cast<int>(i) + 1;
    char price[32];
    std::snprintf(price, sizeof price, "%d.%02d", 9 + (id * 7) % 90, (id * 13) % 100);
    h += "    <article class=\"product-card\" data-id=\"" + std::to_string(id) + "\">\n      <img src=\"" + products[i] +
         "\" alt=\"Product " + std::to_string(id) + "\" width=\"160\" height=\"120\">\n"
         "      <h2 class=\"product-title\"><a href=\"/api/items/" + std::to_string(id) + "\">Product " +
         std::to_string(id) + "</a></h2>\n      <p class=\"product-price\"><span class=\"currency\">EUR</span> " +
         price + "</p>\n      <p class=\"product-description\">";
    for (int k = 0; k < 6; ++k) h += sentence(rng, 14) + ' ';
    h += "</p>\n      <button class=\"btn btn-primary add-to-cart\" type=\"button\">Add to cart</button>\n    </article>\n";
  }
  h += "  </section>\n  <section class=\"live\">\n    <h2>In stock now</h2>\n"
       "    <div id=\"live-items\" aria-live=\"polite\"><p class=\"loading\">Loading...</p></div>\n  </section>\n"
       "  <section class=\"editorial\">\n";
  while (h.size() < 24000) h += "    <p>" + sentence(rng, 12) + ' ' + sentence(rng, 16) + ' ' + sentence(rng, 9) + "</p>\n";
  h += "  </section>\n</main>\n<footer class=\"site-footer\">\n"
       "  <p>&copy; 2024 Sample Shop. Served by perfgate-sample-backend (bench/pageload).</p>\n</footer>\n</body>\n</html>\n";
  site.index_html = std::move(h);
  return site;
}
}  // namespace

const Bodies& bodies() {
  static const Bodies b = [] {
    Bodies x;
    x.pass_json = accountJson(1042, kSmallJsonBytes);
    x.small_json = accountJson(2048, kSmallJsonBytes);
    x.items_json = itemsJson();
    x.home_html = homeHtml();
    x.page_html = pageHtml();
    x.page_html_gzip = deflate::gzip(x.page_html);
    x.app_js = appJs();
    x.bundle_js = bundleJs();
    x.etag_json = "{\"resource\":\"etag\",\"version\":1,\"note\":\"revalidate with If-None-Match\"}";
    x.last_modified_json =
        "{\"resource\":\"last-modified\",\"version\":1,\"note\":\"revalidate with If-Modified-Since\"}";
    x.not_found_json = "{\"error\":\"not found\",\"status\":404}";
    return x;
  }();
  return b;
}

const Site& site() {
  static const Site s = buildSite();
  return s;
}

const char* pattern() {
  static const auto p = makePattern();
  return p.data();
}

std::string itemJson(int id) {
  static const char* const kCategories[] = {"books", "garden", "kitchen", "outdoor", "toys", "tools"};
  char buf[400];
  int n = std::snprintf(buf, sizeof buf,
                        "{\"id\":%d,\"name\":\"Item %d\",\"sku\":\"SKU-%06d\",\"category\":\"%s\","
                        "\"price\":%d.%02d,\"currency\":\"EUR\",\"stock\":%d,\"rating\":%d.%d,"
                        "\"updated\":\"2024-01-01T00:00:00Z\"}",
                        id, id, id, kCategories[id % 6], 5 + (id * 37) % 200, (id * 13) % 100,
                        (id * 7919) % 500, 1 + id % 4, (id * 3) % 10);
  return std::string(buf, static_cast<size_t>(n));
}

std::string searchJson(std::string_view q) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a picks stable "hits" for a query
  for (char c : q) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  int total = static_cast<int>(h % 50);
  std::string s = "{\"query\":\"" + jsonEscape(q) + "\",\"total\":" + std::to_string(total) + ",\"results\":[";
  for (int i = 0; i < total && i < 5; ++i) {
    if (i) s += ',';
    s += itemJson(1 + static_cast<int>((h >> (i * 8)) % kMaxItemId));
  }
  s += "]}";
  return s;
}

std::string jsonEscape(std::string_view in) {
  std::string out;
  out.reserve(in.size() + 8);
  for (char c : in) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned char>(c));
          out += esc;
        } else {
          out += c;  // bytes >= 0x80 pass through; clients send UTF-8
        }
    }
  }
  return out;
}

std::string formDecode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string_view queryParam(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key) return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

bool parseUint(std::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n > max) return false;
  *out = n;
  return true;
}

std::string strongEtag(std::string_view body) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : body) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

std::string httpDate(time_t t) {
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

bool parseHttpDate(std::string_view s, time_t* out) {
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 29 || s[3] != ',' || s.substr(25) != " GMT") return false;
  auto num = [&](size_t pos, size_t len, int* v) {
    *v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      *v = *v * 10 + (s[i] - '0');
    }
    return true;
  };
  struct tm tm {};
  int month = -1;
  for (int m = 0; m < 12; ++m) {
    if (s.substr(8, 3) == kMonths[m]) month = m;
  }
  if (month < 0 || !num(5, 2, &tm.tm_mday) || !num(12, 4, &tm.tm_year) || !num(17, 2, &tm.tm_hour) ||
      !num(20, 2, &tm.tm_min) || !num(23, 2, &tm.tm_sec)) {
    return false;
  }
  tm.tm_mon = month;
  tm.tm_year -= 1900;
  *out = timegm(&tm);
  return true;
}

bool etagMatches(std::string_view inm, std::string_view etag) {
  auto opaque = [](std::string_view t) {
    if (t.size() >= 2 && t[0] == 'W' && t[1] == '/') t.remove_prefix(2);
    return t;
  };
  while (!inm.empty()) {
    size_t comma = inm.find(',');
    std::string_view tag = inm.substr(0, comma);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (tag == "*" || opaque(tag) == opaque(etag)) return true;
    if (comma == std::string_view::npos) break;
    inm.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace sample_backend

// The configuration's key table: every key of every section, declared once, by the core for its
// own sections and by each module for its (filters/module.h). The loader reads TOML through it,
// --print-config prints through it, --check-config is the loader, and the README's table is held
// to it by a test. A key declaration says where the value lives (a member of a section struct),
// how it is read and printed, its default as documented, and what it means.
//
// Sections come in three scopes: global tables ([server], [cache.l2]), per-upstream tables
// ([upstream.NAME]) and per-route tables ([[route]]). Several owners may declare keys in one
// section ([log] level is the core's, [log] access_log the access log module's); each owner's
// values live in a struct of its own, found in the frozen Config by type (Config::section<T>(),
// RouteConfig::settings<T>()), at a slot fixed when the schema is built.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace toml {
inline namespace v3 {
class node;
}
}  // namespace toml

namespace perfgate {

using Millis = std::chrono::milliseconds;
struct Config;
struct ListenAddress;
struct RouteConfig;
struct UpstreamConfig;

// A bad value, thrown by a key's reader or a section's check; the loader adds file:line:col
// (of `key` when given, else of the value being read or of the table).
struct KeyError : std::runtime_error {
  explicit KeyError(const std::string& message, std::string key_name = {}, uint32_t at_line = 0, uint32_t at_column = 0)
      : std::runtime_error(message), key(std::move(key_name)), line(at_line), column(at_column) {}
  std::string key;
  uint32_t line;    // 0: at the key (or the table) instead
  uint32_t column;
};

// One TOML value, as a key's reader sees it. Each accessor throws KeyError naming the key when
// the value has another type or is out of range.
class ConfigValue {
 public:
  ConfigValue(const toml::node& node, std::string_view key) : node_(node), key_(key) {}
  std::string_view key() const { return key_; }
  std::string string() const;
  bool boolean() const;
  int64_t integer(int64_t min, int64_t max) const;
  uint64_t size() const;      // an integer of bytes, or "256MiB", "64KB"...
  Millis duration() const;    // "30s", "250ms", "2m", "1h"
  ListenAddress address() const;
  // The elements of an array, each positioned; `expected` names what the array should be.
  std::vector<ConfigValue> array(const char* expected = "an array") const;
  // A KeyError about this key, positioned at this value.
  KeyError error(const std::string& message) const;

 private:
  const toml::node& node_;
  std::string_view key_;
};

// TOML text of values, as the loader reads them back.
std::string tomlQuote(std::string_view text);
std::string printSize(uint64_t bytes);      // the largest unit that divides it: "256MiB"
std::string printDuration(Millis value);    // "30s", "250ms"

enum class Scope : uint8_t { Global, Upstream, Route };

// One key: how it is read into, and printed from, its owner's struct (type-erased here; the
// typed builder below makes them).
struct KeySpec {
  std::string name;
  std::string doc;           // README "meaning"
  std::string default_text;  // README "default", as written there
  std::function<void(void* owner, const ConfigValue& value)> read;
  // The value as TOML text (a "  # comment" may follow it); nullopt: unset, printed as a comment;
  // "": a key that does not apply to this owner, not printed. `note` is printed after the value.
  std::function<std::optional<std::string>(const void* owner)> print;
  std::string note;
};

// One owner's keys in one section.
struct SectionSpec {
  std::string name;  // "server", "cache.l2"; "upstream" and "route" for those scopes
  Scope scope = Scope::Global;
  // A module's struct lives in a slot (Config::section<T>(), UpstreamConfig/RouteConfig::
  // settings<T>()): `make` gives a new one with its defaults; for a route, `config` holds the
  // global sections already read (a route key's default may come from one).
  size_t slot = 0;
  std::function<std::shared_ptr<void>(const Config& config)> make;
  // A core struct is a member of Config, UpstreamConfig or RouteConfig: `member` finds it.
  std::function<void*(Config& config, UpstreamConfig* upstream, RouteConfig* route)> member;
  std::vector<KeySpec> keys;
  // After the section's keys were read: cross-key checks and derived fields; throws KeyError.
  std::function<void(void* owner, const Config& config)> check;
};

// A typed slot per owner struct: filled when the struct's section is declared.
template <typename T>
struct SectionSlot {
  static inline size_t index = static_cast<size_t>(-1);
};

// Declares the keys of struct T (member pointers) for one section.
template <typename T>
class SectionBuilder {
 public:
  explicit SectionBuilder(SectionSpec& spec) : spec_(spec) {}

  SectionBuilder& boolean(std::string name, bool T::*field, std::string doc) {
    return add(std::move(name), std::move(doc), [field](T& t, const ConfigValue& v) { t.*field = v.boolean(); },
               [field](const T& t) -> std::optional<std::string> { return t.*field ? "true" : "false"; });
  }
  template <typename N>
  SectionBuilder& integer(std::string name, N T::*field, int64_t min, int64_t max, std::string doc,
                          std::string note = {}) {
    add(std::move(name), std::move(doc),
        [field, min, max](T& t, const ConfigValue& v) { t.*field = static_cast<N>(v.integer(min, max)); },
        [field](const T& t) -> std::optional<std::string> { return std::to_string(t.*field); });
    spec_.keys.back().note = std::move(note);
    return *this;
  }
  SectionBuilder& size(std::string name, uint64_t T::*field, std::string doc) {
    return add(std::move(name), std::move(doc), [field](T& t, const ConfigValue& v) { t.*field = v.size(); },
               [field](const T& t) -> std::optional<std::string> { return printSize(t.*field); });
  }
  SectionBuilder& duration(std::string name, Millis T::*field, std::string doc) {
    return add(std::move(name), std::move(doc), [field](T& t, const ConfigValue& v) { t.*field = v.duration(); },
               [field](const T& t) -> std::optional<std::string> { return printDuration(t.*field); });
  }
  // Unset by default: printed commented out, documented as "none".
  SectionBuilder& duration(std::string name, std::optional<Millis> T::*field, std::string doc) {
    add(std::move(name), std::move(doc), [field](T& t, const ConfigValue& v) { t.*field = v.duration(); },
        [field](const T& t) -> std::optional<std::string> {
          if (!(t.*field)) return std::nullopt;
          return printDuration(*(t.*field));
        });
    spec_.keys.back().default_text = "none";
    return *this;
  }
  SectionBuilder& string(std::string name, std::string T::*field, std::string doc) {
    return add(std::move(name), std::move(doc), [field](T& t, const ConfigValue& v) { t.*field = v.string(); },
               [field](const T& t) -> std::optional<std::string> { return tomlQuote(t.*field); });
  }
  // Anything else: the reader and printer are the caller's.
  SectionBuilder& custom(std::string name, std::string doc, std::function<void(T&, const ConfigValue&)> read,
                         std::function<std::optional<std::string>(const T&)> print) {
    return add(std::move(name), std::move(doc), std::move(read), std::move(print));
  }
  // The README's default column for the last key, when the printed default is not what to say
  // ("`= max_connections`", "—" for a required key).
  SectionBuilder& documentedDefault(std::string text) {
    spec_.keys.back().default_text = std::move(text);
    return *this;
  }
  // The note printed after the last key's value.
  SectionBuilder& note(std::string text) {
    spec_.keys.back().note = std::move(text);
    return *this;
  }
  // Runs after the section's keys were read.
  SectionBuilder& check(std::function<void(T&, const Config&)> fn) {
    spec_.check = [fn = std::move(fn)](void* owner, const Config& config) { fn(*static_cast<T*>(owner), config); };
    return *this;
  }

 private:
  SectionBuilder& add(std::string name, std::string doc, std::function<void(T&, const ConfigValue&)> read,
                      std::function<std::optional<std::string>(const T&)> print) {
    KeySpec key;
    key.name = std::move(name);
    key.doc = std::move(doc);
    key.read = [read = std::move(read)](void* owner, const ConfigValue& v) { read(*static_cast<T*>(owner), v); };
    key.print = [print = std::move(print)](const void* owner) { return print(*static_cast<const T*>(owner)); };
    // The documented default is the printed value of a default-constructed struct, unless the
    // declaration says otherwise.
    T defaults{};
    std::optional<std::string> text = key.print(&defaults);
    key.default_text = text ? "`" + *text + "`" : "none";
    spec_.keys.push_back(std::move(key));
    return *this;
  }

  SectionSpec& spec_;
};

class ConfigSchema {
 public:
  // Declares owner struct T for the global section `name` ("cache", "cache.l2").
  template <typename T>
  SectionBuilder<T> global(std::string name) {
    return declare<T>(std::move(name), Scope::Global, [](const Config&) { return std::make_shared<T>(); });
  }
  // The core's own structs, members of Config / UpstreamConfig / RouteConfig.
  template <typename T>
  SectionBuilder<T> coreGlobal(std::string name, T Config::*member) {
    return core<T>(std::move(name), Scope::Global, [member](Config& c, UpstreamConfig*, RouteConfig*) -> void* {
      return &(c.*member);
    });
  }
  SectionBuilder<UpstreamConfig> coreUpstream() {
    return core<UpstreamConfig>("upstream", Scope::Upstream,
                                [](Config&, UpstreamConfig* u, RouteConfig*) -> void* { return u; });
  }
  SectionBuilder<RouteConfig> coreRoute() {
    return core<RouteConfig>("route", Scope::Route, [](Config&, UpstreamConfig*, RouteConfig* r) -> void* { return r; });
  }
  // Declares owner struct T for every [upstream.NAME] table.
  template <typename T>
  SectionBuilder<T> upstream() {
    return declare<T>("upstream", Scope::Upstream, [](const Config&) { return std::make_shared<T>(); });
  }
  // Declares owner struct T for every [[route]] table; `defaults` may fill it from the config's
  // global sections before the route's keys are read.
  template <typename T>
  SectionBuilder<T> route(std::function<void(T&, const Config&)> defaults = nullptr) {
    return declare<T>("route", Scope::Route, [defaults](const Config& config) {
      auto route = std::make_shared<T>();
      if (defaults) defaults(*route, config);
      return route;
    });
  }

  const std::vector<SectionSpec>& sections() const { return sections_; }
  size_t slots(Scope scope) const { return slot_counts_[static_cast<size_t>(scope)]; }

 private:
  template <typename T>
  SectionBuilder<T> declare(std::string name, Scope scope, std::function<std::shared_ptr<void>(const Config&)> make) {
    SectionSpec& spec = sections_.emplace_back();
    spec.name = std::move(name);
    spec.scope = scope;
    size_t& count = slot_counts_[static_cast<size_t>(scope)];
    if (SectionSlot<T>::index == static_cast<size_t>(-1)) SectionSlot<T>::index = count++;
    spec.slot = SectionSlot<T>::index;
    spec.make = std::move(make);
    return SectionBuilder<T>(spec);
  }
  template <typename T>
  SectionBuilder<T> core(std::string name, Scope scope, std::function<void*(Config&, UpstreamConfig*, RouteConfig*)> member) {
    SectionSpec& spec = sections_.emplace_back();
    spec.name = std::move(name);
    spec.scope = scope;
    spec.member = std::move(member);
    return SectionBuilder<T>(spec);
  }

  std::vector<SectionSpec> sections_;  // in declaration order: the order of printing
  size_t slot_counts_[3] = {0, 0, 0};
};

// The schema of this build: the core's sections, then every module's (gateway/modules.cc), in
// the modules' order. Built once.
const ConfigSchema& configSchema();

// Declares the core's sections ([server], [admin], [cache] max_object_bytes, [metrics], [log]
// level, the upstreams' and routes' keys) in `schema` (gateway/config/config.cc).
void declareCoreConfig(ConfigSchema& schema);

}  // namespace perfgate

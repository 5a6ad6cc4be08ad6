#include "gateway/config/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <charconv>
#include <stdexcept>

#define TOML_EXCEPTIONS 1
#include <toml++/toml.h>

namespace perfgate {
namespace {

// A config error with the position it belongs to; turned into "file:line:col: message".
struct ConfigError : std::runtime_error {
  ConfigError(const toml::source_region& where, const std::string& message)
      : std::runtime_error(message), line(where.begin.line), column(where.begin.column) {}
  ConfigError(uint32_t at_line, uint32_t at_column, const std::string& message)
      : std::runtime_error(message), line(at_line), column(at_column) {}
  uint32_t line;
  uint32_t column;
};

KeyError typeError(const toml::node& node, std::string_view key, const char* expected) {
  return KeyError("'" + std::string(key) + "' must be " + expected, std::string(key), node.source().begin.line,
                  node.source().begin.column);
}

const toml::table& requireTable(const toml::node& node, const std::string& name) {
  if (!node.is_table()) throw ConfigError(node.source(), "'" + name + "' must be a table");
  return *node.as_table();
}

// A KeyError placed in `table`: at its own position, at the key it names, or at the table.
ConfigError placed(const KeyError& e, const toml::table& table) {
  if (e.line != 0) return ConfigError(e.line, e.column, e.what());
  if (!e.key.empty()) {
    if (const toml::node* node = table.get(e.key)) return ConfigError(node->source(), e.what());
  }
  return ConfigError(table.source(), e.what());
}

// Reads the sections of `scope` named `name` from `table` (null: absent, defaults only) into
// `config`; `upstream`/`route` is the object being read for those scopes. `subtables` are names
// of nested tables read on their own ([cache.l2] inside [cache]).
void readSection(const std::string& name, Scope scope, const toml::table* table, Config& config,
                 UpstreamConfig* upstream, RouteConfig* route, const std::string& label) {
  const ConfigSchema& schema = configSchema();
  if (table != nullptr) {
    // Unknown keys are errors: every key must be declared by some owner of this section (or name
    // a nested section of it).
    for (const auto& [key, node] : *table) {
      bool known = false;
      for (const SectionSpec& spec : schema.sections()) {
        if (spec.scope != scope) continue;
        if (spec.name == name) {
          for (const KeySpec& k : spec.keys) known = known || k.name == key.str();
        } else if (node.is_table() && spec.name == name + "." + std::string(key.str())) {
          known = true;
        }
      }
      if (!known) throw ConfigError(key.source(), "unknown key '" + std::string(key.str()) + "' in [" + label + "]");
    }
  }
  for (const SectionSpec& spec : schema.sections()) {
    if (spec.scope != scope || spec.name != name) continue;
    void* owner = nullptr;
    if (spec.member) {
      owner = spec.member(config, upstream, route);
    } else {
      std::shared_ptr<void> made = spec.make(config);
      owner = made.get();
      std::vector<std::shared_ptr<const void>>& slots =
          scope == Scope::Route ? route->module_settings : config.module_sections;
      if (slots.size() <= spec.slot) slots.resize(spec.slot + 1);
      slots[spec.slot] = std::move(made);
    }
    static const toml::table kEmpty;
    const toml::table& from = table != nullptr ? *table : kEmpty;
    try {
      for (const KeySpec& key : spec.keys) {
        if (const toml::node* node = from.get(key.name)) key.read(owner, ConfigValue(*node, key.name));
      }
      if (spec.check) spec.check(owner, config);
    } catch (const KeyError& e) {
      throw placed(e, from);
    }
  }
}

// The global sections in declaration order, each name once.
std::vector<std::string> globalSectionNames() {
  std::vector<std::string> names;
  for (const SectionSpec& spec : configSchema().sections()) {
    if (spec.scope == Scope::Global && std::find(names.begin(), names.end(), spec.name) == names.end()) {
      names.push_back(spec.name);
    }
  }
  return names;
}

// The table at a dotted path ("cache.l2"), or null when absent.
const toml::table* findTable(const toml::table& root, const std::string& path) {
  const toml::table* table = &root;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const toml::node* node = table->get(part);
    if (node == nullptr) return nullptr;
    table = &requireTable(*node, path.substr(0, dot));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return table;
}

std::shared_ptr<const Config> buildConfig(const toml::table& root, const std::string& source) {
  auto config = std::make_shared<Config>();
  config->source = source;
  std::vector<std::string> sections = globalSectionNames();
  for (const auto& [key, node] : root) {
    std::string name(key.str());
    bool known = name == "upstream" || name == "route" ||
                 std::find(sections.begin(), sections.end(), name) != sections.end();
    if (!known) throw ConfigError(key.source(), "unknown key '" + name + "' in [top level]");
  }
  for (const std::string& name : sections) {
    readSection(name, Scope::Global, findTable(root, name), *config, nullptr, nullptr, name);
  }
  if (const toml::node* n = root.get("upstream")) {
    for (const auto& [key, node] : requireTable(*n, "upstream")) {
      std::string name(key.str());
      const toml::table& table = requireTable(node, "upstream." + name);
      UpstreamConfig upstream;
      upstream.name = name;
      readSection("upstream", Scope::Upstream, &table, *config, &upstream, nullptr, "upstream." + name);
      config->upstreams.push_back(std::move(upstream));
    }
  }
  std::sort(config->upstreams.begin(), config->upstreams.end(),
            [](const UpstreamConfig& a, const UpstreamConfig& b) { return a.name < b.name; });
  if (const toml::node* n = root.get("route")) {
    const toml::array* routes = n->as_array();
    if (routes == nullptr) throw ConfigError(n->source(), "'route' must be an array of tables ([[route]])");
    for (size_t i = 0; i < routes->size(); ++i) {
      const toml::table& table = requireTable(*routes->get(i), "route");
      RouteConfig route;
      route.index = i;
      readSection("route", Scope::Route, &table, *config, nullptr, &route, "[route]");
      config->routes.push_back(std::move(route));
    }
  }
  if (config->routes.empty()) throw ConfigError(root.source(), "no [[route]] defined");
  return config;
}

std::string positioned(const std::string& source, uint32_t line, uint32_t column, const std::string& message) {
  return source + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

ConfigResult build(const toml::table& root, const std::string& source) {
  ConfigResult result;
  try {
    result.config = buildConfig(root, source);
  } catch (const ConfigError& e) {
    result.error = positioned(source, e.line, e.column, e.what());
  }
  return result;
}

}  // namespace

// --- ConfigValue -----------------------------------------------------------------------------

KeyError ConfigValue::error(const std::string& message) const {
  return KeyError(message, std::string(key_), node_.source().begin.line, node_.source().begin.column);
}

std::string ConfigValue::string() const {
  if (!node_.is_string()) throw typeError(node_, key_, "a string");
  return node_.as_string()->get();
}

bool ConfigValue::boolean() const {
  if (!node_.is_boolean()) throw typeError(node_, key_, "true or false");
  return node_.as_boolean()->get();
}

int64_t ConfigValue::integer(int64_t min, int64_t max) const {
  if (!node_.is_integer()) throw typeError(node_, key_, "an integer");
  int64_t value = node_.as_integer()->get();
  if (value < min || value > max) {
    throw error("'" + std::string(key_) + "' must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return value;
}

uint64_t ConfigValue::size() const {
  if (node_.is_integer() && node_.as_integer()->get() >= 0) return static_cast<uint64_t>(node_.as_integer()->get());
  if (node_.is_string()) {
    if (auto bytes = parseSize(node_.as_string()->get())) return *bytes;
    throw error("'" + std::string(key_) + "': invalid size '" + node_.as_string()->get() +
                "' (e.g. \"64KiB\", \"256MiB\")");
  }
  throw typeError(node_, key_, "a size such as \"64KiB\"");
}

Millis ConfigValue::duration() const {
  if (!node_.is_string()) throw typeError(node_, key_, "a duration such as \"30s\"");
  if (auto ms = parseDuration(node_.as_string()->get())) return *ms;
  throw error("'" + std::string(key_) + "': invalid duration '" + node_.as_string()->get() +
              "' (e.g. \"30s\", \"250ms\")");
}

ListenAddress ConfigValue::address() const {
  std::string text = string();
  if (auto address = parseListenAddress(text)) return *address;
  throw error("'" + std::string(key_) + "': invalid address '" + text + "' (expected HOST:PORT, [IPv6]:PORT)");
}

std::vector<ConfigValue> ConfigValue::array(const char* expected) const {
  const toml::array* items = node_.as_array();
  if (items == nullptr) throw typeError(node_, key_, expected);
  std::vector<ConfigValue> out;
  for (const toml::node& item : *items) out.emplace_back(item, key_);
  return out;
}

// --- loading ---------------------------------------------------------------------------------

bool isLoopback(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr v4{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

std::string ListenAddress::toString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

const UpstreamConfig* Config::findUpstream(const std::string& name) const {
  for (const UpstreamConfig& upstream : upstreams) {
    if (upstream.name == name) return &upstream;
  }
  return nullptr;
}

ConfigResult loadConfigFile(const std::string& path) {
  // A file that cannot be read has no position to name: say why, as the system does.
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    ConfigResult result;
    result.error = path + ": cannot read the config file: " + std::strerror(errno);
    return result;
  }
  std::fclose(file);
  try {
    return build(toml::parse_file(path), path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    ConfigResult result;
    result.error = positioned(path, where.line, where.column, std::string(e.description()));
    return result;
  }
}

ConfigResult loadConfigString(std::string_view text, const std::string& source_name) {
  try {
    return build(toml::parse(text, source_name), source_name);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    ConfigResult result;
    result.error = positioned(source_name, where.line, where.column, std::string(e.description()));
    return result;
  }
}

ConfigResult makeDropInConfig(const std::string& upstream_url) {
  std::string text = "[upstream.default]\nurl = " + tomlQuote(upstream_url) +
                     "\n[[route]]\nname = \"default\"\nprefix = \"/\"\nupstream = \"default\"\n";
  ConfigResult result = loadConfigString(text, "--upstream");
  if (!result) {
    // "--upstream:2:7: upstream url must ..." reads as "--upstream URL: upstream url must ...".
    std::string message = result.error.substr(result.error.find(": ") + 2);
    result.error = "--upstream " + upstream_url + ": " + message;
    return result;
  }
  auto config = std::make_shared<Config>(*result.config);
  config->source.clear();
  result.config = std::move(config);
  return result;
}

std::optional<uint64_t> parseSize(std::string_view text) {
  uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  static const std::pair<std::string_view, uint64_t> kUnits[] = {
      {"", 1}, {"B", 1}, {"K", 1024}, {"KB", 1000}, {"KiB", 1024}, {"M", 1024 * 1024},
      {"MB", 1000 * 1000}, {"MiB", 1024 * 1024}, {"G", 1024ull * 1024 * 1024},
      {"GB", 1000ull * 1000 * 1000}, {"GiB", 1024ull * 1024 * 1024}};
  for (const auto& [name, scale] : kUnits) {
    if (unit == name) {
      if (number > UINT64_MAX / scale) return std::nullopt;
      return number * scale;
    }
  }
  return std::nullopt;
}

std::optional<Millis> parseDuration(std::string_view text) {
  uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  static const std::pair<std::string_view, uint64_t> kUnits[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};
  for (const auto& [name, scale] : kUnits) {
    if (unit == name) {
      if (number > UINT64_MAX / scale / 1000) return std::nullopt;
      return Millis(number * scale);
    }
  }
  return std::nullopt;
}

std::optional<ListenAddress> parseListenAddress(std::string_view text) {
  ListenAddress address;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    address.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    address.host = std::string(text.substr(0, colon));
    if (address.host.find(':') != std::string::npos) return std::nullopt;  // IPv6 needs brackets
    port_text = text.substr(colon + 1);
  }
  if (address.host.empty() || port_text.empty()) return std::nullopt;
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) return std::nullopt;
  address.port = static_cast<uint16_t>(port);
  return address;
}

}  // namespace perfgate

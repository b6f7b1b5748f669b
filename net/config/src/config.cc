// The config file's root: which sections it has, in what order (kSections), and the YAML
// around them. Each section is one file (sections.h lists them); the field readers they share
// are in reader.h; the command line's overrides in overrides.cc, the startup lines in
// summary.cc.
#include "sluice/net/config/config.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "reader.h"
#include "sections.h"
#include "yaml_guard.h"

namespace sluice::net {
namespace {

// In file order: ToYaml() writes them so, and the root's "unknown key" message lists them so.
constexpr Section kSections[] = {
    {"listen", ParseListen, EmitListen},
    {"admin", ParseAdmin, EmitAdmin},
    {"threads", ParseThreads, EmitThreads},
    {"table", ParseTable, EmitTable},
    {"response", ParseResponse, EmitResponse},
    {"limits", ParseLimits, EmitLimits},
    {"log", ParseLog, EmitLog},
    {"forwarded", ParseForwardedSection, EmitForwardedSection, HasForwardedSection},
    {"policies", ParsePolicies, EmitPolicies},
    {"upstreams", ParseUpstreams, EmitUpstreams, HasUpstreams},
    {"routes", ParseRoutes, EmitRoutes, HasRoutes},
    {"proxy", ParseProxy, EmitProxy, HasProxy},
};

constexpr auto kSectionKeys = [] {
  std::array<std::string_view, std::size(kSections)> keys{};
  for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = kSections[i].key;
  return keys;
}();

void ParseRoot(ConfigReader& reader, const YAML::Node& root, ServerConfig& config) {
  auto fields = reader.Map(root, "the config", kSectionKeys);
  if (!fields) return;
  for (const Section& section : kSections) {
    if (const YAML::Node* value = fields->Find(section.key)) section.parse(reader, *value, config);
  }
  if (!fields->Has("policies")) {
    reader.Fail(root, "missing key 'policies' (at least one policy is needed)");
  }
  if (const YAML::Node* upstreams = fields->Find("upstreams");
      upstreams && !fields->Has("routes")) {
    reader.Fail(*upstreams,
                "upstreams are used only by routes: add a routes section "
                "(e.g. routes: [{upstream: NAME}]) or remove upstreams");
  }
}

}  // namespace

ServerConfig EmbeddedDefault() {
  ServerConfig config;
  ServerPolicy p;
  p.name = "per-ip";
  p.key = {KeyPart{KeyPartKind::kIp, {}}};
  p.rate = Rate{10, std::chrono::seconds(1)};
  p.burst = 20;
  config.policies.push_back(std::move(p));
  return config;
}

absl::StatusOr<ServerConfig> ParseConfig(std::string_view yaml, std::string_view source_name) {
  ConfigReader reader(source_name);
  ServerConfig config;
  config.source = std::string(source_name);
  try {
    const std::string text(yaml);
    if (YamlLoadAllWouldLoop(text)) {
      reader.FailAt(1, "YAML syntax error: a document cannot start here (a stray ',' or ']'?)");
      return reader.Errors();
    }
    std::vector<YAML::Node> docs = YAML::LoadAll(text);
    if (docs.empty() || docs[0].IsNull()) {
      reader.FailAt(1, "the config is empty (it needs at least a 'policies' list)");
    } else {
      if (docs.size() > 1) reader.Fail(docs[1], "only one YAML document is allowed");
      ParseRoot(reader, docs[0], config);
    }
  } catch (const YAML::Exception& e) {
    reader.FailAt(e.mark.is_null() ? 1 : e.mark.line + 1,
                  absl::StrCat("YAML syntax error: ", e.msg));
  }
  if (reader.error_count() == 0) return config;
  return reader.Errors();
}

absl::StatusOr<ServerConfig> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read: ", std::strerror(errno)));
  }
  return ParseConfig(text.str(), path);
}

std::string ToYaml(const ServerConfig& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  for (const Section& section : kSections) {
    if (section.present != nullptr && !section.present(config)) continue;
    out << YAML::Key << std::string(section.key) << YAML::Value;
    section.emit(out, config);
  }
  out << YAML::EndMap;
  return absl::StrCat(out.c_str(), "\n");
}

}  // namespace sluice::net

// A guard for a yaml-cpp 0.7 bug: YAML::LoadAll() never returns (and grows memory) on a stream
// whose first token cannot start a node, such as a leading ',' (", a"): jbeder/yaml-cpp issue
// 1040, fixed upstream after 0.8.0. Debian 12 ships 0.7, so config loading checks first.
#ifndef SLUICE_NET_SRC_YAML_GUARD_H_
#define SLUICE_NET_SRC_YAML_GUARD_H_

#include <string>

namespace sluice::net {

// True when YAML::LoadAll(text) would loop forever: the event parser starts a document where
// the previous one started (no progress). Returns false on a syntax error, which LoadAll()
// reports by throwing as usual.
bool YamlLoadAllWouldLoop(const std::string& text);

}  // namespace sluice::net

#endif  // SLUICE_NET_SRC_YAML_GUARD_H_

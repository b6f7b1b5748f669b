// The encoding of a policy's key in KeyScratch memory (policy_set.cc writes it, key_text.cc
// renders it for humans): per part, a kind byte, a 32-bit little-endian length, the bytes.
#ifndef SLUICE_NET_POLICY_SRC_KEY_ENCODING_H_
#define SLUICE_NET_POLICY_SRC_KEY_ENCODING_H_

#include <cstddef>

namespace sluice::net {

inline constexpr std::size_t kPartHeader = 5;
inline constexpr char kKindIp = 'i';
inline constexpr char kKindIp64 = 'n';
inline constexpr char kKindHeader = 'h';
inline constexpr char kKindPath = 'p';
inline constexpr char kKindMethod = 'm';
inline constexpr char kKindFallbackIp = 'F';

}  // namespace sluice::net

#endif  // SLUICE_NET_POLICY_SRC_KEY_ENCODING_H_

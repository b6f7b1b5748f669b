// Listening sockets.
#ifndef SLUICE_NET_SRC_LISTENER_H_
#define SLUICE_NET_SRC_LISTENER_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "sluice/net/config/config.h"

namespace sluice::net {

// A bound, listening TCP socket. `reuse_port` lets several shards bind the same address
// (the kernel spreads connections across them). Port 0 binds any free port. A positive
// `receive_buffer` fixes SO_RCVBUF for every accepted socket.
absl::StatusOr<int> Listen(const ListenAddress& address, bool reuse_port, int backlog = 4096,
                           int receive_buffer = 0);
// The port a socket is bound to.
absl::StatusOr<std::uint16_t> BoundPort(int fd);

}  // namespace sluice::net

#endif  // SLUICE_NET_SRC_LISTENER_H_

// libFuzzer target: the client side of proxy mode on hostile bytes, the property that "what is
// forwarded re-parses to the same request and is canonical".
//
// For every request ParseRequestHead completes, WriteForwardedHead's head must:
//   - parse whole with our own request parser, as HTTP/1.1 keep-alive, with the same method,
//     the origin-form of the target, and the same body framing and length;
//   - hold no hop-by-hop field, no field the client's Connection named (Host excepted), one
//     framing field at most, and exactly one X-Forwarded-For, X-Real-IP and X-Forwarded-Proto,
//     the one we wrote (the peer last in X-Forwarded-For);
//   - keep every other client field, in order, with its value;
//   - be a fixed point: forwarding the forwarded head again (replace mode) gives the same bytes.
// A chunked body is decoded and re-encoded canonically; the canonical body decodes to the same
// data and is framed by the request-side BodyFramer to exactly its length.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "sluice/net/http/chunked.h"
#include "sluice/net/http/forward_request.h"
#include "sluice/net/http/hop_by_hop.h"
#include "sluice/net/http/http_parser.h"

namespace {

using sluice::net::BodyFramer;
using sluice::net::BodyKind;
using sluice::net::ChunkedDecoder;
using sluice::net::ConnectionOptions;
using sluice::net::FieldRole;
using sluice::net::ForwardContext;
using sluice::net::ForwardError;
using sluice::net::ForwardOptions;
using sluice::net::ForwardResult;
using sluice::net::HttpLimits;
using sluice::net::HttpRequest;
using sluice::net::ParseRequestHead;
using sluice::net::ParseResult;
using sluice::net::RemovedAtHop;
using sluice::net::RoleOf;
using sluice::net::WriteForwardedHead;
using sluice::net::XForwardedFor;

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "forward_request_fuzz: property failed: %s\n", what);
    std::abort();
  }
}

constexpr std::size_t kOut = 32768;
const HttpLimits kWide{kOut, 128, kOut};

void CheckForwarded(const HttpRequest& request, std::string_view head, const ForwardContext& ctx,
                    const ForwardOptions& options) {
  static HttpRequest out;
  const ParseResult parsed = ParseRequestHead(head, kWide, out);
  Check(parsed.status == ParseResult::Status::kComplete && parsed.consumed == head.size(),
        "forwarded head parses whole");
  Check(out.method == request.method, "same method");
  Check(out.minor_version == 1 && out.keep_alive, "HTTP/1.1 keep-alive upstream");
  Check(out.body == request.body && out.content_length == request.content_length, "same framing");
  std::string_view path_and_query;
  std::string_view authority;
  Check(sluice::net::SplitTarget(request.target, path_and_query, authority), "target splits");
  const bool slash = path_and_query.empty() || path_and_query[0] == '?';
  Check(out.target.size() == path_and_query.size() + (slash ? 1 : 0) &&
            out.target.substr(slash ? 1 : 0) == path_and_query,
        "origin-form target");
  if (!authority.empty()) {
    Check(out.Find("host") != nullptr && out.Find("host")->value == authority,
          "authority is the Host");
  }

  ConnectionOptions named;
  Check(named.Collect(request.headers, request.header_count), "options collected");
  std::size_t framing = 0;
  std::size_t xff = 0;
  std::size_t real_ip = 0;
  std::size_t proto = 0;
  std::size_t next = 0;  // the next client field that must appear
  for (std::size_t i = 0; i < out.header_count; ++i) {
    const auto& h = out.headers[i];
    const FieldRole role = RoleOf(h.name);
    if (role == FieldRole::kFraming) ++framing;
    if (role == FieldRole::kForwardedFor) {
      ++xff;
      if (options.x_forwarded_for != XForwardedFor::kOff) {
        Check(h.value.size() >= ctx.peer_ip.size() &&
                  h.value.substr(h.value.size() - ctx.peer_ip.size()) == ctx.peer_ip,
              "the peer ends X-Forwarded-For");
      }
    }
    if (role == FieldRole::kRealIp) {
      ++real_ip;
      Check(h.value == ctx.client_ip, "X-Real-IP is ours");
    }
    if (role == FieldRole::kForwardedProto) {
      ++proto;
      Check(h.value == ctx.proto, "X-Forwarded-Proto is ours");
    }
    if (role == FieldRole::kHopByHop) {
      Check(h.name == "Connection" && h.value == "upgrade", "only our upgrade Connection");
    }
    if (role == FieldRole::kTe) Check(h.value == "trailers", "only TE: trailers");
    if (role == FieldRole::kEndToEnd) {
      Check(!named.Lists(h.name), "no Connection-named field");
      // Every surviving client field, in order: find it among those still expected.
      while (next < request.header_count &&
             (RemovedAtHop(RoleOf(request.headers[next].name), request.headers[next].name, named) ||
              RoleOf(request.headers[next].name) != FieldRole::kEndToEnd)) {
        ++next;
      }
      Check(next < request.header_count, "no field we did not get");
      Check(request.headers[next].name == h.name && request.headers[next].value == h.value,
            "client fields in order and unchanged");
      ++next;
    }
  }
  while (next < request.header_count &&
         (RoleOf(request.headers[next].name) != FieldRole::kEndToEnd ||
          RemovedAtHop(FieldRole::kEndToEnd, request.headers[next].name, named))) {
    ++next;
  }
  Check(next == request.header_count, "every surviving client field forwarded");
  Check(framing == (request.body == BodyKind::kNone ? 0u : 1u), "one framing field");
  if (options.x_forwarded_for != XForwardedFor::kOff) Check(xff == 1, "one X-Forwarded-For");
  Check(real_ip == (options.x_real_ip ? 1u : 0u), "one X-Real-IP");
  Check(proto == 1, "one X-Forwarded-Proto");
}

void CheckChunkedBody(std::string_view body) {
  ChunkedDecoder decoder;
  decoder.Reset();
  std::string data;
  std::string canonical;
  for (;;) {
    const ChunkedDecoder::Step step = decoder.Next(body);
    body.remove_prefix(step.consumed);
    if (step.event == ChunkedDecoder::Event::kData) {
      char line[sluice::net::kMaxChunkSizeLine];
      canonical.append(line, sluice::net::WriteChunkSize(step.data.size(), line));
      canonical.append(step.data).append(sluice::net::kChunkDataEnd);
      data.append(step.data);
      continue;
    }
    if (step.event == ChunkedDecoder::Event::kTrailer) continue;  // trailers are not forwarded
    if (step.event != ChunkedDecoder::Event::kDone) return;       // incomplete or refused
    break;
  }
  canonical.append(sluice::net::kLastChunk).append(sluice::net::kChunkedEnd);
  // The canonical body decodes to the same data and is exactly one body to the request side.
  ChunkedDecoder again;
  again.Reset();
  std::string_view rest = canonical;
  std::string redecoded;
  for (;;) {
    const ChunkedDecoder::Step step = again.Next(rest);
    rest.remove_prefix(step.consumed);
    if (step.event == ChunkedDecoder::Event::kData) {
      redecoded.append(step.data);
      continue;
    }
    Check(step.event == ChunkedDecoder::Event::kDone, "canonical body decodes");
    break;
  }
  Check(rest.empty() && redecoded == data, "canonical body is the same data");
  static HttpRequest chunked;
  chunked.body = BodyKind::kChunked;
  BodyFramer framer;
  framer.Start(chunked);
  const BodyFramer::Result framed = framer.Feed(canonical + "GET");
  Check(framed.status == BodyFramer::Status::kDone && framed.consumed == canonical.size(),
        "request-side framer takes exactly the canonical body");
}

void FuzzWith(std::string_view input, const ForwardOptions& options) {
  static HttpRequest request;
  static HttpRequest forwarded;
  static char out[kOut];
  static char out2[kOut];
  const ParseResult result = ParseRequestHead(input, HttpLimits{}, request);
  if (result.status != ParseResult::Status::kComplete) return;
  ForwardContext ctx;
  ctx.peer_ip = "192.0.2.1";
  ctx.client_ip = "2001:db8::1";
  ctx.default_host = "upstream:80";
  const ForwardResult f = WriteForwardedHead(request, options, ctx, out, sizeof(out));
  if (f.error != ForwardError::kNone) {
    Check(f.size == 0, "nothing on error");
    Check(f.error != ForwardError::kTooLarge, "an 8 KiB head fits in 32 KiB");
    return;
  }
  const std::string_view head(out, f.size);
  CheckForwarded(request, head, ctx, options);

  if (options.x_forwarded_for == XForwardedFor::kReplace) {
    const ParseResult again = ParseRequestHead(head, kWide, forwarded);
    Check(again.status == ParseResult::Status::kComplete, "reparse");
    const ForwardResult g = WriteForwardedHead(forwarded, options, ctx, out2, sizeof(out2));
    Check(g.error == ForwardError::kNone && std::string_view(out2, g.size) == head,
          "forwarding is a fixed point");
  }
  if (request.body == BodyKind::kChunked) CheckChunkedBody(input.substr(result.consumed));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  char* copy = static_cast<char*>(std::malloc(size == 0 ? 1 : size));
  if (size != 0) std::memcpy(copy, data, size);
  const std::string_view input(copy, size);
  ForwardOptions append;
  FuzzWith(input, append);
  ForwardOptions replace;
  replace.x_forwarded_for = XForwardedFor::kReplace;
  replace.websocket = true;
  FuzzWith(input, replace);
  ForwardOptions off;
  off.x_forwarded_for = XForwardedFor::kOff;
  off.x_real_ip = false;
  FuzzWith(input, off);
  std::free(copy);
  return 0;
}

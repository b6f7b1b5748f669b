// libFuzzer target: the upstream side of proxy mode on hostile bytes, ParseResponseHead,
// ChunkedDecoder and WriteAnswerHead.
//
// Besides "no crash, no over-read" (ASan + UBSan), the properties:
//   - a complete head one byte short is partial;
//   - the canonical form of a complete head (status line, "name: value" fields) parses to the
//     same answer;
//   - what WriteAnswerHead makes of it for an HTTP/1.1 and an HTTP/1.0 client parses as an answer
//     with the same status, no hop-by-hop field and the framing it announced;
//   - never more body forwarded than framed: a chunked body decodes to the same data and the
//     same end whole and split, and a Content-Length body takes exactly its bytes;
//   - an answer that was an error stays an error on every longer input (never "pool after an
//     error" because more bytes arrived).
// Interim answers are followed to the final one, as a forwarder does.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "sluice/net/http/chunked.h"
#include "sluice/net/http/forward_response.h"
#include "sluice/net/http/hop_by_hop.h"
#include "sluice/net/http/response_parser.h"

namespace {

using sluice::net::ChunkedDecoder;
using sluice::net::ClientFraming;
using sluice::net::ClientRequestFacts;
using sluice::net::FieldRole;
using sluice::net::HttpResponse;
using sluice::net::ParseResponseHead;
using sluice::net::ResponseBody;
using sluice::net::ResponseError;
using sluice::net::ResponseLimits;
using sluice::net::ResponseParseResult;
using sluice::net::RoleOf;
using sluice::net::WriteAnswerHead;
using Status = ResponseParseResult::Status;

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "response_parser_fuzz: property failed: %s\n", what);
    std::abort();
  }
}

std::string Canonical(const HttpResponse& r) {
  std::string out = "HTTP/1.";
  out.push_back(static_cast<char>('0' + r.minor_version));
  out.append(" ").append(std::to_string(r.status)).append(" ").append(r.reason).append("\r\n");
  for (std::size_t i = 0; i < r.header_count; ++i) {
    out.append(r.headers[i].name).append(": ").append(r.headers[i].value).append("\r\n");
  }
  return out.append("\r\n");
}

struct Decoded {
  ChunkedDecoder::Event end;
  std::string data;
  std::size_t consumed = 0;
};

// Decodes `body`, feeding at most `piece` new bytes at a time (0: all at once).
Decoded DecodeChunked(std::string_view body, std::size_t piece) {
  ChunkedDecoder decoder;
  decoder.Reset();
  Decoded out{ChunkedDecoder::Event::kNeedMore, {}, 0};
  std::size_t available = piece == 0 ? body.size() : std::min(piece, body.size());
  for (;;) {
    const ChunkedDecoder::Step step =
        decoder.Next(body.substr(out.consumed, available - out.consumed));
    Check(step.consumed <= available - out.consumed, "decoder consumed in range");
    out.consumed += step.consumed;
    if (step.event == ChunkedDecoder::Event::kData) {
      Check(!step.data.empty(), "data step is not empty");
      out.data.append(step.data);
      continue;
    }
    if (step.event == ChunkedDecoder::Event::kTrailer) {
      Check(!step.trailer.name.empty(), "trailer has a name");
      continue;
    }
    if (step.event != ChunkedDecoder::Event::kNeedMore) {
      out.end = step.event;
      return out;
    }
    if (available == body.size()) return out;
    available = std::min(body.size(), available + piece);
  }
}

void CheckAnswerHead(const HttpResponse& response, bool head_request) {
  static HttpResponse reparsed;
  char out[32768];
  for (const ClientRequestFacts client :
       {ClientRequestFacts{1, true}, ClientRequestFacts{0, true}}) {
    const auto result = WriteAnswerHead(response, client, "X-Ours: 1\r\n", false, out, sizeof(out));
    if (result.skip) {
      Check(response.interim() && client.minor_version == 0, "skip only 1xx to HTTP/1.0");
      continue;
    }
    if (result.refused) continue;  // too many Connection options
    const std::string_view head(out, result.size);
    const ResponseParseResult again =
        ParseResponseHead(head, ResponseLimits{32768, 128}, head_request, reparsed);
    Check(again.status == Status::kComplete && again.consumed == head.size(),
          "forwarded head parses whole");
    Check(reparsed.status == response.status, "forwarded status");
    for (std::size_t i = 0; i < reparsed.header_count; ++i) {
      const FieldRole role = RoleOf(reparsed.headers[i].name);
      // The upstream's Connection fields are gone: one spelt "Connection" can only be ours.
      Check(role != FieldRole::kHopByHop || reparsed.headers[i].name == "Connection",
            "no hop-by-hop field but our Connection");
      Check(role != FieldRole::kFraming || reparsed.headers[i].name == "Content-Length" ||
                reparsed.headers[i].name == "Transfer-Encoding",
            "framing fields are ours");
      Check(role != FieldRole::kTe && role != FieldRole::kUpgrade, "no TE or Upgrade");
    }
    if (response.interim()) continue;
    switch (result.framing) {
      case ClientFraming::kContentLength:
        Check(reparsed.body == ResponseBody::kContentLength || head_request, "CL framing");
        Check(reparsed.content_length == response.content_length, "same length");
        break;
      case ClientFraming::kChunked:
        Check(client.minor_version == 1, "chunked only to HTTP/1.1");
        Check(reparsed.body == ResponseBody::kChunked || head_request, "chunked framing");
        break;
      case ClientFraming::kUntilClose:
        Check(client.minor_version == 0 && result.close_client, "close-delimited to 1.0, closed");
        break;
      case ClientFraming::kNone:
        Check(response.body == ResponseBody::kNone, "no body only when none");
        break;
    }
  }
}

void FuzzWith(std::string_view input, const ResponseLimits& limits, bool head_request) {
  static HttpResponse response;
  static HttpResponse other;
  for (int heads = 0; heads < 4; ++heads) {
    const ResponseParseResult result = ParseResponseHead(input, limits, head_request, response);
    if (result.status == Status::kPartial) {
      Check(result.consumed == 0 && result.error == ResponseError::kNone, "partial");
      return;
    }
    if (result.status == Status::kError) {
      Check(result.error != ResponseError::kNone && LabelFor(result.error) != "none", "label");
      // More bytes never turn an error into something else.
      std::string longer(input);
      longer.append("\r\n\r\nHTTP/1.1 200 OK\r\n\r\n");
      const ResponseParseResult again = ParseResponseHead(longer, limits, head_request, other);
      Check(again.status == Status::kError, "errors are sticky");
      return;
    }
    Check(result.consumed > 0 && result.consumed <= input.size(), "consumed in range");
    Check(result.consumed <= limits.max_header_bytes, "within max_header_bytes");
    Check(response.status >= 100 && response.status <= 599, "status range");
    Check(!response.keep_alive || response.body != ResponseBody::kUntilClose,
          "close-delimited is never kept alive");
    if (response.body != ResponseBody::kNone) {
      Check(!head_request && response.status >= 200 && response.status != 204 &&
                response.status != 304,
            "body only where allowed");
    }
    const ResponseParseResult shorter =
        ParseResponseHead(input.substr(0, result.consumed - 1), limits, head_request, other);
    Check(shorter.status == Status::kPartial, "strict prefix is partial");

    const std::string canonical = Canonical(response);
    const ResponseParseResult again = ParseResponseHead(
        canonical, ResponseLimits{std::max(canonical.size(), limits.max_header_bytes), 128},
        head_request, other);
    Check(again.status == Status::kComplete && again.consumed == canonical.size(),
          "canonical head complete");
    Check(other.status == response.status && other.body == response.body &&
              other.content_length == response.content_length &&
              other.keep_alive == response.keep_alive &&
              other.header_count == response.header_count,
          "canonical head is the same answer");

    CheckAnswerHead(response, head_request);

    const std::string_view body = input.substr(result.consumed);
    if (response.interim()) {
      if (response.status == 101) return;  // a tunnel: no more HTTP
      input = body;
      continue;
    }
    if (response.body == ResponseBody::kChunked) {
      const Decoded whole = DecodeChunked(body, 0);
      for (const std::size_t piece : {std::size_t{1}, std::size_t{7}}) {
        const Decoded split = DecodeChunked(body, piece);
        Check(split.end == whole.end, "split decodes to the same end");
        Check(split.data == whole.data, "split decodes to the same data");
        // (After an error, what was consumed is meaningless: the connection is closed.)
        if (whole.end == ChunkedDecoder::Event::kDone) {
          Check(split.consumed == whole.consumed, "split consumes the same");
        }
      }
      Check(whole.data.size() <= body.size(), "never more data than bytes");
    } else if (response.body == ResponseBody::kContentLength) {
      Check(std::min<std::uint64_t>(response.content_length, body.size()) <= body.size(),
            "length body within input");
    }
    return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  char* copy = static_cast<char*>(std::malloc(size == 0 ? 1 : size));
  if (size != 0) std::memcpy(copy, data, size);
  const std::string_view input(copy, size);
  FuzzWith(input, ResponseLimits{}, false);
  FuzzWith(input, ResponseLimits{}, true);
  FuzzWith(input, ResponseLimits{96, 3}, false);
  std::free(copy);
  return 0;
}

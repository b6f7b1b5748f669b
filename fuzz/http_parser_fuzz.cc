// libFuzzer target: ParseRequestHead and BodyFramer on hostile bytes.
//
// Besides "no crash, no over-read" (ASan + UBSan), three properties:
//   - differential: a complete head, written back out canonically (METHOD SP target SP
//     HTTP/1.x CRLF, "name: value" CRLF per field, CRLF), parses to the same request;
//   - the head one byte short is partial (every strict prefix of a valid head is partial);
//   - BodyFramer gives the same answer for the whole body and for splits derived from the input.
// Pipelined requests after the first body are parsed the same way, a few at most.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "sluice/net/http/http_parser.h"

namespace {

using sluice::net::BodyFramer;
using sluice::net::HttpLimits;
using sluice::net::HttpRequest;
using sluice::net::LabelFor;
using sluice::net::ParseError;
using sluice::net::ParseRequestHead;
using sluice::net::ParseResult;
using sluice::net::StatusFor;

// Every failed property aborts so libFuzzer keeps the input.
void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "http_parser_fuzz: property failed: %s\n", what);
    std::abort();
  }
}

std::string Serialize(const HttpRequest& r) {
  std::string out;
  out.append(r.method).append(" ").append(r.target).append(" HTTP/1.");
  out.push_back(static_cast<char>('0' + r.minor_version));
  out.append("\r\n");
  for (std::size_t i = 0; i < r.header_count; ++i) {
    out.append(r.headers[i].name).append(": ").append(r.headers[i].value).append("\r\n");
  }
  out.append("\r\n");
  return out;
}

void CheckSameRequest(const HttpRequest& a, const HttpRequest& b) {
  Check(a.method == b.method, "method");
  Check(a.target == b.target, "target");
  Check(a.path == b.path, "path");
  Check(a.minor_version == b.minor_version, "minor_version");
  Check(a.keep_alive == b.keep_alive, "keep_alive");
  Check(a.body == b.body, "body kind");
  Check(a.content_length == b.content_length, "content_length");
  Check(a.header_count == b.header_count, "header_count");
  for (std::size_t i = 0; i < a.header_count; ++i) {
    Check(a.headers[i].name == b.headers[i].name, "header name");
    Check(a.headers[i].value == b.headers[i].value, "header value");
  }
}

// A small deterministic generator seeded from the input: the splits are a function of the bytes.
struct SplitRng {
  std::uint64_t state;
  std::size_t Next(std::size_t bound) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return bound == 0 ? 0 : static_cast<std::size_t>((state >> 33) % bound);
  }
};

// Frames `body` whole and split; both must agree. Returns the body bytes used, or npos when the
// body is incomplete or bad (nothing can follow it then).
std::size_t CheckBody(const HttpRequest& request, std::string_view body, SplitRng& rng) {
  BodyFramer whole;
  whole.Start(request);
  const BodyFramer::Result w = whole.Feed(body);
  Check(w.consumed <= body.size(), "whole: consumed <= size");
  if (w.status == BodyFramer::Status::kNeedMore) Check(w.consumed == body.size(), "kNeedMore");
  Check(whole.done() == (w.status == BodyFramer::Status::kDone), "done()");
  const BodyFramer::Result again = whole.Feed(body);
  Check(again.status == w.status || w.status == BodyFramer::Status::kNeedMore, "sticky status");
  if (w.status == BodyFramer::Status::kDone) Check(again.consumed == 0, "kDone consumes nothing");

  BodyFramer split;
  split.Start(request);
  std::size_t offset = 0;
  BodyFramer::Result s{BodyFramer::Status::kNeedMore, 0};
  do {
    const std::size_t piece = rng.Next(std::min<std::size_t>(body.size() - offset, 16) + 1);
    const BodyFramer::Result r = split.Feed(body.substr(offset, piece));
    Check(r.consumed <= piece, "split: consumed <= size");
    offset += r.consumed;
    s = r;
    if (r.status != BodyFramer::Status::kNeedMore) break;
    Check(r.consumed == piece, "split: kNeedMore consumes all");
  } while (offset < body.size());
  Check(s.status == w.status, "whole and split agree on status");
  Check(offset == w.consumed, "whole and split agree on consumed");
  return w.status == BodyFramer::Status::kDone ? w.consumed : std::string_view::npos;
}

void FuzzWith(std::string_view input, const HttpLimits& limits, SplitRng rng) {
  static HttpRequest request;  // large (128 headers): not on the stack per call
  static HttpRequest reparsed;
  for (int pipelined = 0; pipelined < 4 && !input.empty(); ++pipelined) {
    const ParseResult result = ParseRequestHead(input, limits, request);
    if (result.status == ParseResult::Status::kPartial) {
      Check(result.consumed == 0 && result.error == ParseError::kNone, "partial");
      return;
    }
    if (result.status == ParseResult::Status::kError) {
      const int status = StatusFor(result.error);
      Check(status == 400 || status == 414 || status == 431 || status == 505, "error status");
      Check(!LabelFor(result.error).empty() && LabelFor(result.error) != "none", "error label");
      return;
    }
    Check(result.error == ParseError::kNone, "complete without error");
    Check(result.consumed > 0 && result.consumed <= input.size(), "consumed in range");
    Check(result.consumed <= limits.max_header_bytes, "consumed within max_header_bytes");
    Check(request.header_count <= limits.max_headers, "header_count within max_headers");
    Check(request.target.size() <= limits.max_uri_bytes, "target within max_uri_bytes");
    for (std::size_t i = 0; i < request.header_count; ++i) {
      Check(request.Find(request.headers[i].name) != nullptr, "Find() sees every header");
    }

    // One byte short of the head: partial, never an error.
    HttpRequest& scratch = reparsed;
    const ParseResult shorter =
        ParseRequestHead(input.substr(0, result.consumed - 1), limits, scratch);
    Check(shorter.status == ParseResult::Status::kPartial, "strict prefix is partial");

    // Differential: the canonical form parses to the same request. Re-serializing may add a
    // space after each colon (and drops leading empty lines), so the byte limit is widened.
    const std::string canonical = Serialize(request);
    HttpLimits wide = limits;
    wide.max_header_bytes = std::max(limits.max_header_bytes, canonical.size());
    const ParseResult again = ParseRequestHead(canonical, wide, reparsed);
    Check(again.status == ParseResult::Status::kComplete, "canonical form is complete");
    Check(again.consumed == canonical.size(), "canonical form consumed whole");
    CheckSameRequest(request, reparsed);

    const std::size_t body = CheckBody(request, input.substr(result.consumed), rng);
    if (body == std::string_view::npos) return;
    input.remove_prefix(result.consumed + body);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A copy on the heap of exactly `size` bytes: ASan flags any read past the end.
  char* copy = static_cast<char*>(std::malloc(size == 0 ? 1 : size));
  if (size != 0) std::memcpy(copy, data, size);
  const std::string_view input(copy, size);
  std::uint64_t seed = size;
  for (std::size_t i = 0; i < size && i < 8; ++i) seed = seed * 131 + data[i];

  FuzzWith(input, HttpLimits{}, SplitRng{seed});
  HttpLimits small;
  small.max_header_bytes = 128;
  small.max_headers = 4;
  small.max_uri_bytes = 24;
  FuzzWith(input, small, SplitRng{seed ^ 0x9E3779B97F4A7C15ULL});
  std::free(copy);
  return 0;
}

// The smuggling classes S1-S26 as data (see proxy_smuggling_cases.h).
#include "proxy_smuggling_cases.h"

#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#include "proxy_support.h"

namespace sluice::e2e {

using namespace std::string_literals;

void PrintTo(const ClassCases& c, std::ostream* os) { *os << c.id; }

namespace {

const std::string kH = "Host: test";

std::string Post(const std::string& fields, const std::string& body) {
  return "POST /p HTTP/1.1\r\nHost: test\r\n" + fields + "\r\n" + body;
}

Case Refused(std::string label, std::string bytes, int status = 400) {
  Case c;
  c.label = std::move(label);
  c.kind = Kind::kRefused;
  c.bytes = std::move(bytes);
  c.status = status;
  return c;
}

Case Forwards(std::string label, std::string bytes, std::vector<std::string> forwarded) {
  Case c;
  c.label = std::move(label);
  c.kind = Kind::kForwarded;
  c.bytes = std::move(bytes);
  c.answers.assign(forwarded.size(), 200);
  c.forwarded = std::move(forwarded);
  return c;
}

Case Upstream(std::string label, Kind kind, std::string reply, int status = 0, bool head = false,
              bool close = false) {
  Case c;
  c.close = close;
  c.label = std::move(label);
  c.kind = kind;
  c.reply = std::move(reply);
  c.status = status;
  c.head = head;
  return c;
}

// The canonical forms of the bodies the cases send.
const std::string kChunkedHello = "5\r\nhello\r\n0\r\n\r\n";
std::string PostCl(const std::string& body) {
  return Forwarded("POST /p HTTP/1.1", {kH}, "Content-Length: " + std::to_string(body.size()),
                   body);
}
std::string PostChunked(const std::string& canonical_body) {
  return Forwarded("POST /p HTTP/1.1", {kH}, "Transfer-Encoding: chunked", canonical_body);
}

}  // namespace

std::vector<ClassCases> AllClasses() {
  const std::string te = "Transfer-Encoding: chunked\r\n";
  std::vector<ClassCases> all;
  all.push_back({"S1",
                 "",
                 {
                     Refused("CL then TE", Post("Content-Length: 5\r\n" + te, kChunkedHello)),
                     Refused("TE then CL", Post(te + "Content-Length: 5\r\n", kChunkedHello)),
                     Refused("CL 0 and TE", Post("Content-Length: 0\r\n" + te, kChunkedHello)),
                     Refused("CL and TE gzip, chunked",
                             Post("Content-Length: 5\r\nTransfer-Encoding: gzip, chunked\r\n",
                                  kChunkedHello)),
                 }});
  all.push_back(
      {"S2",
       "",
       {
           Refused("two CL lines 5 and 6",
                   Post("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!")),
           Refused("CL list 5, 6", Post("Content-Length: 5, 6\r\n", "hello!")),
           Refused("CL 5 and CL 50", Post("Content-Length: 5\r\nContent-Length: 50\r\n", "hello")),
       }});
  all.push_back(
      {"S3",
       "",
       {
           Forwards("CL list 5, 5", Post("Content-Length: 5, 5\r\n", "hello"), {PostCl("hello")}),
           Forwards("two CL lines 5", Post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"),
                    {PostCl("hello")}),
       }});
  all.push_back(
      {"S4",
       "",
       {
           Refused("CL +5", Post("Content-Length: +5\r\n", "hello")),
           Refused("CL 0x5", Post("Content-Length: 0x5\r\n", "hello")),
           Refused("CL 5_0", Post("Content-Length: 5_0\r\n", "hello")),
           Refused("CL -1", Post("Content-Length: -1\r\n", "hello")),
           Refused("CL 5 5", Post("Content-Length: 5 5\r\n", "hello")),
           Refused("CL empty", Post("Content-Length: \r\n", "hello")),
           Refused("CL 5.0", Post("Content-Length: 5.0\r\n", "hello")),
           Refused("CL 2^64 (20 digits)",
                   Post("Content-Length: 18446744073709551616\r\n", "hello")),
           Refused("CL list with an empty member", Post("Content-Length: 5,\r\n", "hello")),
           Forwards("CL 05 (leading zero, forwarded canonical)",
                    Post("Content-Length: 05\r\n", "hello"), {PostCl("hello")}),
       }});
  all.push_back(
      {"S5",
       "",
       {
           Refused("TE xchunked", Post("Transfer-Encoding: xchunked\r\n", kChunkedHello)),
           Refused("TE chunked, identity",
                   Post("Transfer-Encoding: chunked, identity\r\n", kChunkedHello)),
           Refused("TE identity", Post("Transfer-Encoding: identity\r\n", "")),
           Refused("TE chunked;x=y", Post("Transfer-Encoding: chunked;x=y\r\n", kChunkedHello)),
           Refused("TE empty", Post("Transfer-Encoding: \r\n", kChunkedHello)),
           Refused("TE gzip, chunked (unsupported coding)",
                   Post("Transfer-Encoding: gzip, chunked\r\n", kChunkedHello), 501),
           Forwards("TE ,chunked (empty member ignored)",
                    Post("Transfer-Encoding: ,chunked\r\n", kChunkedHello),
                    {PostChunked(kChunkedHello)}),
           Forwards("TE Chunked (case)", Post("Transfer-Encoding: Chunked\r\n", kChunkedHello),
                    {PostChunked(kChunkedHello)}),
       }});
  all.push_back({"S6",
                 "",
                 {
                     Refused("TE chunked, chunked",
                             Post("Transfer-Encoding: chunked, chunked\r\n", kChunkedHello)),
                     Refused("two TE chunked lines", Post(te + te, kChunkedHello)),
                     Refused("TE chunked then TE identity",
                             Post(te + "Transfer-Encoding: identity\r\n", kChunkedHello)),
                 }});
  all.push_back(
      {"S7",
       "",
       {
           Refused("space before colon (TE)",
                   Post("Transfer-Encoding : chunked\r\n", kChunkedHello)),
           Refused("tab before colon (TE)",
                   Post("Transfer-Encoding\t: chunked\r\n", kChunkedHello)),
           Refused("space before colon (CL)", Post("Content-Length : 5\r\n", "hello")),
           Refused("leading space before the name",
                   "POST /p HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: test\r\n\r\n" +
                       kChunkedHello),
           Refused("VT before the value", Post("Transfer-Encoding: \x0b"
                                               "chunked\r\n",
                                               kChunkedHello)),
           Refused("FF before the value", Post("Transfer-Encoding: \x0c"
                                               "chunked\r\n",
                                               kChunkedHello)),
           Refused("NUL after the value", Post("Transfer-Encoding: chunked\0\r\n"s, kChunkedHello)),
           Refused("0xA0 before the value", Post("Transfer-Encoding: \xa0"
                                                 "chunked\r\n",
                                                 kChunkedHello)),
           Refused("0xA0 after the value",
                   Post("Transfer-Encoding: chunked\xa0\r\n", kChunkedHello)),
           Refused("0xA0 in the name", Post("Transfer-Encoding\xa0: chunked\r\n", kChunkedHello)),
           Refused("0xFF in the name", Post("\xffTransfer-Encoding: chunked\r\n", kChunkedHello)),
       }});
  all.push_back(
      {"S8",
       "",
       {
           Refused("obs-fold continuing TE",
                   Post("Transfer-Encoding: identity\r\n chunked\r\n", kChunkedHello)),
           Refused("obs-fold before the TE value",
                   Post("Transfer-Encoding:\r\n chunked\r\n", kChunkedHello)),
           Refused("obs-fold continuing CL", Post("Content-Length: 5\r\n 0\r\n", "hello")),
           Refused("obs-fold (tab) on any header", Post("X-Long: a\r\n\tb\r\n", "")),
       }});
  all.push_back({"S9",
                 "",
                 {
                     Refused("TE in HTTP/1.0",
                             "POST /p HTTP/1.0\r\nHost: test\r\n" + te + "\r\n" + kChunkedHello),
                     Refused("TE in HTTP/1.0 without Host",
                             "POST /p HTTP/1.0\r\n" + te + "\r\n" + kChunkedHello),
                 }});
  auto chunked = [&](const std::string& body) { return Post(te, body); };
  all.push_back(
      {"S10",
       "",
       {
           Refused("size 0x5", chunked("0x5\r\nhello\r\n0\r\n\r\n")),
           Refused("size +5", chunked("+5\r\nhello\r\n0\r\n\r\n")),
           Refused("size -5", chunked("-5\r\nhello\r\n0\r\n\r\n")),
           Refused("size with a leading space", chunked(" 5\r\nhello\r\n0\r\n\r\n")),
           Refused("size with a trailing space", chunked("5 \r\nhello\r\n0\r\n\r\n")),
           Refused("size 5_", chunked("5_\r\nhello\r\n0\r\n\r\n")),
           Refused("empty size", chunked("\r\nhello\r\n0\r\n\r\n")),
           Refused("size of 17 hex digits (> 2^64)",
                   chunked("10000000000000000\r\nhello\r\n0\r\n\r\n")),
           Refused("size g", chunked("g\r\nhello\r\n0\r\n\r\n")),
           Forwards("size 005 (leading zeros, forwarded canonical)",
                    chunked("005\r\nhello\r\n0\r\n\r\n"), {PostChunked(kChunkedHello)}),
           Forwards("size A (upper case, forwarded as a)", chunked("A\r\n0123456789\r\n0\r\n\r\n"),
                    {PostChunked("a\r\n0123456789\r\n0\r\n\r\n")}),
       }});
  all.push_back(
      {"S11",
       "",
       {
           Refused("extension with a bare LF", chunked("5;a\nb\r\nhello\r\n0\r\n\r\n")),
           Refused("extension with a bare CR", chunked("5;a\rb\r\nhello\r\n0\r\n\r\n")),
           Refused("extension with a NUL", chunked("5;a=\0\r\nhello\r\n0\r\n\r\n"s)),
           Refused("extension with an unbalanced quote", chunked("5;a=\"b\r\nhello\r\n0\r\n\r\n")),
           Refused("bare ;", chunked("5;\r\nhello\r\n0\r\n\r\n")),
           Refused("extension of 2 KiB (over the 1 KiB cap)",
                   chunked("5;a=" + std::string(2048, 'x') + "\r\nhello\r\n0\r\n\r\n")),
           Forwards("extension dropped", chunked("5;name=value\r\nhello\r\n0\r\n\r\n"),
                    {PostChunked(kChunkedHello)}),
           Forwards("quoted extension dropped", chunked("5;name=\"a b\"\r\nhello\r\n0;x\r\n\r\n"),
                    {PostChunked(kChunkedHello)}),
       }});
  all.push_back({"S12",
                 "",
                 {
                     Refused("data ended by a bare LF", chunked("5\r\nhello\n0\r\n\r\n")),
                     Refused("data ended by a bare CR", chunked("5\r\nhello\r0\r\n\r\n")),
                     Refused("data ended by XX", chunked("5\r\nhelloXX0\r\n\r\n")),
                     Refused("CRLF missing after the data", chunked("5\r\nhello0\r\n\r\n")),
                     Refused("data longer than its size", chunked("3\r\nhello\r\n0\r\n\r\n")),
                 }});
  all.push_back(
      {"S13",
       "",
       {
           Refused("last chunk ended by a bare LF", chunked("5\r\nhello\r\n0\n\r\n")),
           Refused("final empty line a bare LF", chunked("5\r\nhello\r\n0\r\n\n")),
           Refused("trailer ended by a bare LF", chunked("5\r\nhello\r\n0\r\nX-T: 1\n\r\n")),
           Refused("trailer with obs-fold", chunked("5\r\nhello\r\n0\r\nX-T: 1\r\n 2\r\n\r\n")),
           Forwards(
               "framing, routing and auth trailers dropped",
               chunked("5\r\nhello\r\n0\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\n"
                       "Host: evil.example\r\nAuthorization: Basic eA==\r\n\r\n"),
               {PostChunked(kChunkedHello)}),
       }});
  all.push_back(
      {"S14",
       "",
       {
           Refused("bare LF everywhere", "GET / HTTP/1.1\nHost: test\n\n"),
           Refused("bare LF after the request line", "GET / HTTP/1.1\nHost: test\r\n\r\n"),
           Refused("bare LF after a header", "GET / HTTP/1.1\r\nHost: test\n\r\n"),
           Refused("bare LF as the empty line", "GET / HTTP/1.1\r\nHost: test\r\n\n"),
           Refused("bare CR in a value", "GET / HTTP/1.1\r\nHost: test\r\nX-A: a\rb\r\n\r\n"),
           Refused("NUL in a value", "GET / HTTP/1.1\r\nHost: test\r\nX-A: a\0b\r\n\r\n"s),
           Refused("NUL in the target", "GET /a\0b HTTP/1.1\r\nHost: test\r\n\r\n"s),
       }});
  all.push_back(
      {"S15",
       "",
       {
           Forwards("GET with a body",
                    "GET /g HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello",
                    {Forwarded("GET /g HTTP/1.1", {kH}, "Content-Length: 5", "hello")}),
           Forwards("OPTIONS with a body",
                    "OPTIONS /o HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello",
                    {Forwarded("OPTIONS /o HTTP/1.1", {kH}, "Content-Length: 5", "hello")}),
           Forwards(
               "GET with a chunked body",
               "GET /g HTTP/1.1\r\nHost: test\r\n" + te + "\r\n" + kChunkedHello,
               {Forwarded("GET /g HTTP/1.1", {kH}, "Transfer-Encoding: chunked", kChunkedHello)}),
           Forwards("GET with a body that looks like a request",
                    "GET /g HTTP/1.1\r\nHost: test\r\nContent-Length: 33\r\n\r\n"
                    "GET /smuggled HTTP/1.1\r\nHost: x\r\n",
                    {Forwarded("GET /g HTTP/1.1", {kH}, "Content-Length: 33",
                               "GET /smuggled HTTP/1.1\r\nHost: x\r\n")}),
       }});
  all.push_back({"S16",
                 "",
                 {
                     Forwards("absolute-form with another authority",
                              "GET http://other.example/x?y=1 HTTP/1.1\r\nHost: test\r\n\r\n",
                              {Forwarded("GET /x?y=1 HTTP/1.1", {"Host: other.example"})}),
                     Forwards("absolute-form without a path",
                              "GET http://other.example HTTP/1.1\r\nHost: test\r\n\r\n",
                              {Forwarded("GET / HTTP/1.1", {"Host: other.example"})}),
                     Forwards("absolute-form with a port and only a query",
                              "GET http://other.example:8080?q HTTP/1.1\r\nHost: test\r\n\r\n",
                              {Forwarded("GET /?q HTTP/1.1", {"Host: other.example:8080"})}),
                     Refused("absolute-form with userinfo",
                             "GET http://u@other.example/ HTTP/1.1\r\nHost: test\r\n\r\n"),
                     Refused("absolute-form with another scheme",
                             "GET ftp://other.example/ HTTP/1.1\r\nHost: test\r\n\r\n"),
                 }});
  all.push_back(
      {"S17",
       "",
       {
           Refused("two Host fields", "GET / HTTP/1.1\r\nHost: test\r\nHost: evil.example\r\n\r\n"),
           Refused("no Host in HTTP/1.1", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n"),
           Refused("Host a, b", "GET / HTTP/1.1\r\nHost: test, evil.example\r\n\r\n"),
           Refused("Host with a space", "GET / HTTP/1.1\r\nHost: test evil.example\r\n\r\n"),
           Refused("Host with a path", "GET / HTTP/1.1\r\nHost: test/evil\r\n\r\n"),
       }});
  {
    Case valid_then_bad = Refused(
        "valid then CL +1",
        "GET /v HTTP/1.1\r\nHost: test\r\n\r\nGET /bad HTTP/1.1\r\nHost: test\r\nContent-Length: "
        "+1\r\n\r\nx");
    valid_then_bad.answers = {200};
    valid_then_bad.forwarded = {Forwarded("GET /v HTTP/1.1", {kH})};
    Case body_then_bad =
        Refused("POST with a body then a bare LF request",
                Post("Content-Length: 5\r\n", "hello") + "GET /bad HTTP/1.1\nHost: test\n\n");
    body_then_bad.answers = {200};
    body_then_bad.forwarded = {PostCl("hello")};
    Case chunked_then_bad =
        Refused("chunked POST then TE+CL",
                chunked(kChunkedHello) + Post("Content-Length: 1\r\n" + te, "0\r\n\r\n"));
    chunked_then_bad.answers = {200};
    chunked_then_bad.forwarded = {PostChunked(kChunkedHello)};
    all.push_back({"S18", "", {valid_then_bad, body_then_bad, chunked_then_bad}});
  }
  {
    const std::string smuggled = "GET /smuggled HTTP/1.1\r\nHost: test\r\n\r\n";
    const std::string after = "GET /after HTTP/1.1\r\nHost: test\r\n\r\n";
    Case denied_body;
    denied_body.label = "denied POST whose body is a request, then a request";
    denied_body.kind = Kind::kDenied;
    denied_body.bytes = "POST /deny/x HTTP/1.1\r\nHost: test\r\nContent-Length: " +
                        std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled + after;
    denied_body.forwarded = {Forwarded("GET /after HTTP/1.1", {kH})};
    Case denied_chunked = denied_body;
    denied_chunked.label = "denied chunked POST whose chunk is a request, then a request";
    char size_hex[17];
    std::snprintf(size_hex, sizeof size_hex, "%zx", smuggled.size());
    denied_chunked.bytes = "POST /deny/x HTTP/1.1\r\nHost: test\r\n" + te + "\r\n" + size_hex +
                           "\r\n" + smuggled + "\r\n0\r\n\r\n" + after;
    all.push_back({"S19", "", {denied_body, denied_chunked}});
    Case expect;
    expect.label = "denied POST with Expect: 100-continue, body never sent before the answer";
    expect.kind = Kind::kDenied;
    expect.bytes =
        "POST /deny/x HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: " +
        std::to_string(smuggled.size()) + "\r\n\r\n";
    expect.then = smuggled + after;
    expect.forwarded = {Forwarded("GET /after HTTP/1.1", {kH})};
    all.push_back({"S20", "", {expect}});
  }
  all.push_back(
      {"S21",
       "",
       {
           Forwards("Connection: X-Forwarded-For cannot remove sluiced's",
                    "GET /h HTTP/1.1\r\nHost: test\r\nConnection: X-Forwarded-For\r\n"
                    "X-Forwarded-For: 6.6.6.6\r\n\r\n",
                    {Forwarded("GET /h HTTP/1.1", {kH})}),
           Forwards("Connection: X-Real-IP, Host keeps Host",
                    "GET /h HTTP/1.1\r\nHost: test\r\nConnection: X-Real-IP, Host\r\n"
                    "X-Real-IP: 6.6.6.6\r\n\r\n",
                    {Forwarded("GET /h HTTP/1.1", {kH})}),
           Forwards("Connection: X-Forwarded-Proto",
                    "GET /h HTTP/1.1\r\nHost: test\r\nConnection: x-forwarded-proto\r\n"
                    "X-Forwarded-Proto: https\r\n\r\n",
                    {Forwarded("GET /h HTTP/1.1", {kH})}),
           Forwards(
               "the client's X-Forwarded-For appended to, its X-Real-IP and -Proto replaced",
               "GET /h HTTP/1.1\r\nHost: test\r\nX-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\n"
               "X-Forwarded-Proto: https\r\n\r\n",
               {"GET /h HTTP/1.1\r\nHost: test\r\nX-Forwarded-For: 6.6.6.6, 127.0.0.1\r\n"
                "X-Real-IP: 127.0.0.1\r\nX-Forwarded-Proto: http\r\n\r\n"}),
           Forwards("hop-by-hop fields and a nominated one removed, TE: trailers kept",
                    "GET /h HTTP/1.1\r\nHost: test\r\nConnection: keep-alive, X-Custom\r\n"
                    "X-Custom: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n"
                    "TE: trailers, deflate\r\nTrailer: X-Sum\r\nX-Kept: yes\r\n\r\n",
                    {Forwarded("GET /h HTTP/1.1", {kH, "X-Kept: yes", "TE: trailers"})}),
       }});
  {
    // No route tunnels yet (WebSocket tunnels are a later issue): Upgrade never crosses, and
    // whatever the upstream answers, the client connection stays HTTP.
    const std::string upgrade = "Connection: Upgrade\r\nUpgrade: websocket\r\n";
    Case refused_upgrade = Forwards(
        "upstream answers 426: no tunnel, the next request is HTTP",
        "GET /ws/426 HTTP/1.1\r\nHost: test\r\n" + upgrade +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            "GET /ws/next HTTP/1.1\r\nHost: test\r\n\r\n",
        {Forwarded("GET /ws/426 HTTP/1.1", {kH, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                                            "Sec-WebSocket-Version: 13"}),
         Forwarded("GET /ws/next HTTP/1.1", {kH})});
    refused_upgrade.answers = {426, 200};
    Case plain_200 = Forwards(
        "upstream answers 200: no tunnel, the next request is HTTP",
        "GET /ws/200 HTTP/1.1\r\nHost: test\r\n" + upgrade +
            "\r\nGET /ws/next HTTP/1.1\r\nHost: test\r\n\r\n",
        {Forwarded("GET /ws/200 HTTP/1.1", {kH}), Forwarded("GET /ws/next HTTP/1.1", {kH})});
    Case switching = Upstream(
        "upstream answers 101 to a request whose Upgrade was removed: never a tunnel",
        Kind::kBadGateway,
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled");
    switching.extra = upgrade;
    all.push_back({"S22", "", {refused_upgrade, plain_200, switching}});
    all.push_back(
        {"S23",
         "",
         {
             Forwards("Upgrade: h2c stripped with its HTTP2-Settings",
                      "GET /u HTTP/1.1\r\nHost: test\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                      "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n",
                      {Forwarded("GET /u HTTP/1.1", {kH})}),
             Forwards("Upgrade without Connection: upgrade stripped",
                      "GET /v HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n\r\n",
                      {Forwarded("GET /v HTTP/1.1", {kH})}),
             Forwards("Upgrade on HTTP/1.0 stripped",
                      "GET /w HTTP/1.0\r\nHost: test\r\nConnection: Upgrade\r\n"
                      "Upgrade: websocket\r\n\r\n",
                      {Forwarded("GET /w HTTP/1.1", {kH})}),
         }});
  }
  const std::string ok = "HTTP/1.1 200 OK\r\n";
  all.push_back(
      {"S24",
       "",
       {
           Upstream("CL and TE", Kind::kBadGateway,
                    ok + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" + kChunkedHello),
           Upstream("two different CLs", Kind::kBadGateway,
                    ok + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
           Upstream("CL +5", Kind::kBadGateway, ok + "Content-Length: +5\r\n\r\nhello"),
           Upstream("CL 5x", Kind::kBadGateway, ok + "Content-Length: 5x\r\n\r\nhello"),
           Upstream("TE chunked twice", Kind::kBadGateway,
                    ok + "Transfer-Encoding: chunked, chunked\r\n\r\n" + kChunkedHello),
           Upstream("a bad chunk size", Kind::kBadGateway,
                    ok + "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"),
           Upstream("a bad chunk terminator", Kind::kBadGateway,
                    ok + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"),
           Upstream("data after the last chunk", Kind::kNotPooled,
                    ok + "Transfer-Encoding: chunked\r\n\r\n" + kChunkedHello + ok +
                        "Content-Length: 8\r\n\r\nsmuggled",
                    200),
           Upstream(
               "data after a Content-Length body", Kind::kNotPooled,
               ok + "Content-Length: 5\r\n\r\nhello" + ok + "Content-Length: 8\r\n\r\nsmuggled",
               200),
           Upstream("body on 204", Kind::kBadGateway,
                    "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello"),
           Upstream(
               "chunked on 204", Kind::kBadGateway,
               "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n" + kChunkedHello),
           Upstream("body on 304", Kind::kNotPooled,
                    "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello", 304),
           Upstream("body on HEAD", Kind::kNotPooled, ok + "Content-Length: 5\r\n\r\nhello", 200,
                    true),
       }});
  all.push_back(
      {"S25",
       "",
       {
           Upstream("obs-fold", Kind::kBadGateway,
                    ok + "X-A: b\r\n c\r\nContent-Length: 2\r\n\r\nok"),
           Upstream("space before colon", Kind::kBadGateway, ok + "Content-Length : 2\r\n\r\nok"),
           Upstream("bare LF line ends", Kind::kBadGateway,
                    "HTTP/1.1 200 OK\nContent-Length: 2\n\nok"),
           Upstream("bare CR in a value", Kind::kBadGateway,
                    ok + "X-A: b\rc\r\nContent-Length: 2\r\n\r\nok"),
           Upstream("status of four digits", Kind::kBadGateway,
                    "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok"),
           Upstream("not HTTP", Kind::kBadGateway, "SSH-2.0-OpenSSH_9.2\r\n"),
       }});
  all.push_back(
      {"S26",
       "",
       {
           Upstream("closes inside a Content-Length body", Kind::kTruncated,
                    ok + "Content-Length: 10\r\n\r\nhello", 0, false, true),
           Upstream("closes inside a chunked body", Kind::kTruncated,
                    ok + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", 0, false, true),
           Upstream("closes inside a chunk", Kind::kTruncated,
                    ok + "Transfer-Encoding: chunked\r\n\r\na\r\nhello", 0, false, true),
       }});
  return all;
}

}  // namespace sluice::e2e

// Fuzzes the HTTP/1.x request framing (http/request_parser.h) as the server
// uses it: a head, then a chunked body when the head says so. The first byte
// picks where the input is split, so the chunked decoder is checked against
// itself: fed in two pieces it must decode exactly what it decodes whole.
// The access checks' header parsers (Authorization, Origin) run on each head.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/access.h"
#include "http/request_parser.h"
#include "http/server.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  using namespace vigil::http;
  const size_t split_seed = data[0];
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  HeadParse p = ParseRequestHead(input, 4096);
  Check(p.consumed <= input.size());
  if (p.error) {
    Check(p.consumed == 0 && p.error->status >= 400 && p.error->status < 600 && !p.error->reason.empty());
    return 0;
  }
  if (p.consumed == 0) return 0;
  const RequestHead& head = p.head;
  Check(!head.method.empty() && (head.minor_version == 0 || head.minor_version == 1));
  Check(head.headers.size() <= kMaxRequestHeaderFields);
  (void)ParseFormUrlEncoded(head.query);
  // What the access checks read from every request.
  std::string user, password;
  if (ParseBasicAuthorization(head.Header("authorization"), &user, &password)) {
    Check(user.find(':') == std::string::npos);
  }
  (void)SameOrigin(head.Header("origin"), head.Header("host"), split_seed & 1);
  (void)IsStateChanging(head.method, head.path);
  if (!head.chunked) return 0;

  std::string_view body_bytes = input.substr(p.consumed);
  constexpr size_t kMaxBody = 1 << 16;
  ChunkedDecoder whole(kMaxBody);
  std::string body_whole;
  size_t used_whole = whole.Feed(body_bytes, &body_whole);
  Check(used_whole <= body_bytes.size() && body_whole.size() <= kMaxBody);

  size_t split = body_bytes.empty() ? 0 : split_seed % (body_bytes.size() + 1);
  ChunkedDecoder pieces(kMaxBody);
  std::string body_pieces;
  size_t used = pieces.Feed(body_bytes.substr(0, split), &body_pieces);
  if (!pieces.done() && !pieces.error()) {
    Check(used == split);
    used += pieces.Feed(body_bytes.substr(split), &body_pieces);
  }
  Check(pieces.done() == whole.done());
  Check(pieces.error().has_value() == whole.error().has_value());
  if (whole.done()) Check(used == used_whole);
  Check(body_pieces == body_whole);
  return 0;
}

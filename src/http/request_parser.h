// HTTP/1.x request framing for the event-driven server: the request head
// (request line and header fields) and chunked request bodies. Pure functions
// over bytes, so the fuzzer and the tests drive them without sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::http {

// Request line plus header fields; larger heads get 431.
inline constexpr size_t kMaxRequestHeadBytes = 64 << 10;
inline constexpr size_t kMaxRequestHeaderFields = 100;

struct RequestHead {
  std::string method;
  std::string path;       // percent-decoded, without the query string
  std::string query;      // raw, without '?'
  int minor_version = 1;  // HTTP/1.<minor_version>
  // Header fields in order, names lower-cased, values without surrounding blanks.
  std::vector<std::pair<std::string, std::string>> headers;
  bool keep_alive = true;  // after this request, per version and Connection
  bool chunked = false;    // Transfer-Encoding: chunked
  uint64_t content_length = 0;
  bool expect_continue = false;  // Expect: 100-continue

  // The first value of header `lower_name`, or empty when absent.
  std::string_view Header(std::string_view lower_name) const;
};

// Why a request cannot be served: the status to answer with and a short
// reason for the body. The connection is closed after such an answer.
struct RequestError {
  int status = 400;
  std::string reason;
};

struct HeadParse {
  // Bytes of input the head took (including the blank line); 0 while the
  // head is incomplete and no error was found.
  size_t consumed = 0;
  std::optional<RequestError> error;
  RequestHead head;
};

// Parses the request head at the start of `input` (empty lines before it are
// skipped, as RFC 9112 asks). Accepts bare LF line ends.
HeadParse ParseRequestHead(std::string_view input, size_t max_head_bytes = kMaxRequestHeadBytes);

// Decodes a chunked body incrementally: Feed() as bytes arrive.
class ChunkedDecoder {
 public:
  explicit ChunkedDecoder(size_t max_body_bytes) : max_body_bytes_(max_body_bytes) {}
  // Consumes a prefix of `input` (everything it can use), appending body data
  // to `*body`, and returns how many bytes it took. Stops at the end of the
  // body (done()) or at the first error (error()).
  size_t Feed(std::string_view input, std::string* body);
  bool done() const { return state_ == State::kDone; }
  const std::optional<RequestError>& error() const { return error_; }

 private:
  enum class State { kSize, kData, kDataEnd, kTrailer, kDone, kError };
  size_t Fail(int status, std::string reason, size_t consumed);

  size_t max_body_bytes_;
  State state_ = State::kSize;
  std::string line_;          // the partial size or trailer line
  uint64_t chunk_left_ = 0;   // data bytes left in the current chunk
  size_t trailer_bytes_ = 0;  // bounds the trailer section
  std::optional<RequestError> error_;
};

// Decodes %XX escapes ('+' stays '+', as in a URL path); malformed escapes are
// kept literally.
std::string PercentDecodePath(std::string_view s);

}  // namespace vigil::http

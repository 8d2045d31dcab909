#include "http/request_parser.h"

#include <algorithm>

#include "base/strings.h"

namespace vigil::http {

namespace {

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), IsTokenChar); }

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits off the next line (without its CR LF or LF); false when `*rest` has
// no line end.
bool NextLine(std::string_view* rest, std::string_view* line) {
  size_t lf = rest->find('\n');
  if (lf == std::string_view::npos) return false;
  *line = rest->substr(0, lf);
  if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
  rest->remove_prefix(lf + 1);
  return true;
}

HeadParse Error(int status, std::string reason) {
  HeadParse p;
  p.error = RequestError{status, std::move(reason)};
  return p;
}

// Each comma-separated element of a header value, trimmed.
template <typename Fn>
void ForEachElement(std::string_view value, Fn&& fn) {
  while (true) {
    size_t comma = value.find(',');
    std::string_view element = TrimBlanks(value.substr(0, comma));
    if (!element.empty()) fn(element);
    if (comma == std::string_view::npos) return;
    value.remove_prefix(comma + 1);
  }
}

std::optional<RequestError> ParseRequestLine(std::string_view line, RequestHead* head) {
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return RequestError{400, "malformed request line: expected METHOD TARGET HTTP/1.x"};
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method)) return RequestError{400, "malformed request line: bad method"};
  if (target.empty() || std::any_of(target.begin(), target.end(),
                                    [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; })) {
    return RequestError{400, "malformed request line: bad request target"};
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' || version[5] < '0' ||
      version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return RequestError{400, "malformed request line: bad HTTP version"};
  }
  if (version[5] != '1') return RequestError{505, "HTTP version not supported: only HTTP/1.0 and HTTP/1.1"};
  head->method = std::string(method);
  head->minor_version = version[7] == '0' ? 0 : 1;

  // Absolute form (a proxy's request): keep only the path and query.
  if (target.front() != '/') {
    size_t scheme_end = target.find("://");
    if (scheme_end != std::string_view::npos && scheme_end > 0) {
      size_t path_start = target.find('/', scheme_end + 3);
      target = path_start == std::string_view::npos ? std::string_view("/") : target.substr(path_start);
    } else if (target == "*" && method == "OPTIONS") {
      // The asterisk form addresses the server itself.
    } else {
      return RequestError{400, "malformed request line: the target must start with '/'"};
    }
  }
  size_t hash = target.find('#');
  if (hash != std::string_view::npos) target = target.substr(0, hash);
  size_t question = target.find('?');
  head->path = PercentDecodePath(target.substr(0, question));
  head->query = question == std::string_view::npos ? "" : std::string(target.substr(question + 1));
  return std::nullopt;
}

}  // namespace

std::string_view RequestHead::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return {};
}

std::string PercentDecodePath(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

HeadParse ParseRequestHead(std::string_view input, size_t max_head_bytes) {
  size_t skipped = 0;
  while (skipped < input.size() && (input[skipped] == '\r' || input[skipped] == '\n')) ++skipped;
  std::string_view rest = input.substr(skipped);

  // Find the blank line that ends the head before parsing anything.
  size_t end = std::string_view::npos;  // offset in `rest` just past the blank line
  for (size_t lf = rest.find('\n'); lf != std::string_view::npos; lf = rest.find('\n', lf + 1)) {
    if (lf + 1 < rest.size() && rest[lf + 1] == '\n') {
      end = lf + 2;
      break;
    }
    if (lf + 2 < rest.size() && rest[lf + 1] == '\r' && rest[lf + 2] == '\n') {
      end = lf + 3;
      break;
    }
    if (lf > max_head_bytes) break;
  }
  if (end == std::string_view::npos || end > max_head_bytes) {
    if (rest.size() <= max_head_bytes) return HeadParse{};  // wait for more
    if (rest.substr(0, max_head_bytes).find('\n') == std::string_view::npos) {
      return Error(431, "request line too long (limit " + std::to_string(max_head_bytes) + " bytes)");
    }
    return Error(431, "request header fields too large (limit " + std::to_string(max_head_bytes) + " bytes)");
  }

  HeadParse p;
  RequestHead& head = p.head;
  std::string_view lines = rest.substr(0, end);
  std::string_view line;
  NextLine(&lines, &line);
  if (auto err = ParseRequestLine(line, &head)) {
    p.error = std::move(err);
    return p;
  }

  bool saw_length = false, saw_transfer_encoding = false, close = false, keep_alive = false;
  while (NextLine(&lines, &line) && !line.empty()) {
    if (line.front() == ' ' || line.front() == '\t') return Error(400, "obsolete header line folding");
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return Error(400, "malformed header field: no ':'");
    std::string_view name = line.substr(0, colon);
    if (!IsToken(name)) return Error(400, "malformed header field name");
    std::string_view value = TrimBlanks(line.substr(colon + 1));
    if (std::any_of(value.begin(), value.end(),
                    [](char c) { return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f; })) {
      return Error(400, "control character in header field value");
    }
    if (head.headers.size() >= kMaxRequestHeaderFields) {
      return Error(431, "too many header fields (limit " + std::to_string(kMaxRequestHeaderFields) + ")");
    }
    std::string lower(name);
    for (char& c : lower) c = Lower(c);

    if (lower == "content-length") {
      if (value.empty() || value.size() > 18 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return Error(400, "malformed Content-Length");
      }
      uint64_t n = std::stoull(std::string(value));
      if (saw_length && n != head.content_length) return Error(400, "conflicting Content-Length fields");
      saw_length = true;
      head.content_length = n;
    } else if (lower == "transfer-encoding") {
      if (saw_transfer_encoding || !EqualsIgnoreCase(value, "chunked")) {
        return Error(501, "unsupported Transfer-Encoding \"" + std::string(value) + "\": only chunked is accepted");
      }
      saw_transfer_encoding = true;
      head.chunked = true;
    } else if (lower == "connection") {
      ForEachElement(value, [&](std::string_view option) {
        if (EqualsIgnoreCase(option, "close")) close = true;
        if (EqualsIgnoreCase(option, "keep-alive")) keep_alive = true;
      });
    } else if (lower == "expect") {
      if (!EqualsIgnoreCase(value, "100-continue")) {
        return Error(417, "unsupported Expect \"" + std::string(value) + "\": only 100-continue is accepted");
      }
      head.expect_continue = true;
    }
    head.headers.emplace_back(std::move(lower), std::string(value));
  }
  // Both framings at once is how request smuggling starts (RFC 9112 6.3).
  if (saw_length && saw_transfer_encoding) return Error(400, "both Content-Length and Transfer-Encoding");
  if (head.minor_version == 0 && head.chunked) return Error(400, "chunked Transfer-Encoding in an HTTP/1.0 request");
  head.keep_alive = !close && (head.minor_version == 1 || keep_alive);
  if (!head.chunked && !saw_length) head.expect_continue = false;  // nothing to wait for
  p.consumed = skipped + end;
  return p;
}

size_t ChunkedDecoder::Fail(int status, std::string reason, size_t consumed) {
  state_ = State::kError;
  error_ = RequestError{status, std::move(reason)};
  return consumed;
}

size_t ChunkedDecoder::Feed(std::string_view input, std::string* body) {
  // A size line is hex digits plus extensions we ignore; 1 KiB is plenty.
  constexpr size_t kMaxLineBytes = 1024;
  size_t used = 0;
  while (used < input.size() && state_ != State::kDone && state_ != State::kError) {
    std::string_view rest = input.substr(used);
    if (state_ == State::kData) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(chunk_left_, rest.size()));
      body->append(rest.data(), n);
      used += n;
      chunk_left_ -= n;
      if (chunk_left_ == 0) state_ = State::kDataEnd;
      continue;
    }
    // The other states read whole lines.
    size_t lf = rest.find('\n');
    size_t take = lf == std::string_view::npos ? rest.size() : lf + 1;
    line_.append(rest.data(), take);
    used += take;
    if (lf == std::string_view::npos) {
      if (line_.size() > kMaxLineBytes) return Fail(400, "chunked body: line too long", used);
      break;
    }
    std::string_view line = line_;
    line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    if (state_ == State::kSize) {
      if (line_.size() > kMaxLineBytes) return Fail(400, "chunked body: line too long", used);
      std::string_view digits = TrimBlanks(line.substr(0, line.find(';')));
      if (digits.empty() || digits.size() > 15) return Fail(400, "chunked body: malformed chunk size", used);
      uint64_t size = 0;
      for (char c : digits) {
        int v = HexValue(c);
        if (v < 0) return Fail(400, "chunked body: malformed chunk size", used);
        size = size * 16 + static_cast<uint64_t>(v);
      }
      if (size > max_body_bytes_ || body->size() + size > max_body_bytes_) {
        return Fail(413, "request body too large (limit " + std::to_string(max_body_bytes_) + " bytes)", used);
      }
      chunk_left_ = size;
      state_ = size == 0 ? State::kTrailer : State::kData;
    } else if (state_ == State::kDataEnd) {
      if (!line.empty()) return Fail(400, "chunked body: missing CRLF after chunk data", used);
      state_ = State::kSize;
    } else {  // kTrailer: fields we ignore, until a blank line
      trailer_bytes_ += line_.size();
      if (trailer_bytes_ > kMaxRequestHeadBytes) return Fail(431, "chunked body: trailer section too large", used);
      if (line.empty()) state_ = State::kDone;
    }
    line_.clear();
  }
  return used;
}

}  // namespace vigil::http

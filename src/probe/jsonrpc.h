// Internal: JSON-RPC 1.0/2.0 over HTTP POST with basic or cookie auth, and
// the response parser the fuzz target exercises.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "http/outbound.h"

namespace vigil::probe {
// The outbound HTTP client the probes are built on.
using http::DeadlineFrom;
using http::Failure;
using http::HttpExchange;
using http::HttpRequest;
using http::HttpResponse;
using http::ParsedUrl;
using http::ParseUrl;
using http::SteadyTime;
}  // namespace vigil::probe
#include "probe/probe.h"

namespace vigil::probe {

struct RpcReply {
  nlohmann::json result;  // null when `has_error`
  bool has_error = false;
  int64_t error_code = 0;
  std::string error_message;  // as the server sent it, cut to 200 bytes
};

// Parses one JSON-RPC response (1.0 or 2.0). Failures: bad_json (not JSON,
// truncated) and bad_response (JSON but neither a result nor an error object).
// Never throws.
std::optional<Failure> ParseRpcResponse(std::string_view body, RpcReply* out);

// The value at `pointer` inside `doc`, or nullptr when absent or the pointer
// does not fit the document. Never throws.
const nlohmann::json* FindPointer(const nlohmann::json& doc, const std::string& pointer);
// True iff `pointer` is a syntactically valid RFC 6901 pointer.
bool ValidPointer(const std::string& pointer);
// A JSON value as a gauge value: numbers, booleans (0/1), numeric strings,
// arrays and objects (their size); nullopt for anything else.
std::optional<double> JsonToGauge(const nlohmann::json& v);

// User and password for basic auth, from the options or bitcoind's cookie file.
class Credentials {
 public:
  explicit Credentials(BasicAuth auth) : auth_(std::move(auth)) {}
  bool from_cookie() const { return !auth_.cookie_file.empty(); }
  bool empty() const { return auth_.empty(); }
  // Fills user and password; reads the cookie file the first time and after Invalidate().
  std::optional<Failure> Get(std::string* user, std::string* password);
  // Forgets a cached cookie so the next Get() reads the file again (after a 401).
  void Invalidate() { cookie_loaded_ = false; }

 private:
  BasicAuth auth_;
  bool cookie_loaded_ = false;
  std::string cookie_user_, cookie_password_;
};

class JsonRpcClient {
 public:
  JsonRpcClient(ParsedUrl url, std::string version, BasicAuth auth, bool tls_verify)
      : url_(std::move(url)), version_(std::move(version)), credentials_(std::move(auth)), tls_verify_(tls_verify) {}

  // Calls `method` with `params` before `deadline`. A JSON-RPC error object is
  // a reply (has_error), not a failure. A 401 with cookie auth re-reads the
  // cookie once and retries. `http_status` (may be null) gets the last status.
  std::optional<Failure> Call(const std::string& method, const nlohmann::json& params, SteadyTime deadline,
                              RpcReply* reply, int* http_status = nullptr);
  const ParsedUrl& url() const { return url_; }

 private:
  ParsedUrl url_;
  std::string version_;
  Credentials credentials_;
  bool tls_verify_;
  int64_t next_id_ = 1;
};

}  // namespace vigil::probe

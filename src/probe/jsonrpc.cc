#include "probe/jsonrpc.h"

#include "base/file.h"
#include "base/strings.h"

namespace vigil::probe {

using nlohmann::json;

std::optional<Failure> ParseRpcResponse(std::string_view body, RpcReply* out) {
  json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Failure{"bad_json", "response is not valid JSON"};
  if (!doc.is_object()) return Failure{"bad_response", "response is not a JSON object"};
  auto err = doc.find("error");
  if (err != doc.end() && !err->is_null()) {
    out->has_error = true;
    out->result = nullptr;
    out->error_code = 0;
    out->error_message.clear();
    if (err->is_object()) {
      auto code = err->find("code");
      if (code != err->end() && code->is_number_integer()) out->error_code = code->get<int64_t>();
      auto msg = err->find("message");
      if (msg != err->end() && msg->is_string()) out->error_message = msg->get<std::string>().substr(0, 200);
    } else if (err->is_string()) {
      out->error_message = err->get<std::string>().substr(0, 200);
    }
    return std::nullopt;
  }
  auto result = doc.find("result");
  if (result == doc.end()) return Failure{"bad_response", "response has neither result nor error"};
  out->has_error = false;
  out->result = std::move(*result);
  return std::nullopt;
}

bool ValidPointer(const std::string& pointer) {
  try {
    json::json_pointer p(pointer);
    (void)p;
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

const json* FindPointer(const json& doc, const std::string& pointer) {
  try {
    json::json_pointer p(pointer);
    if (!doc.contains(p)) return nullptr;
    return &doc.at(p);
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::optional<double> JsonToGauge(const json& v) {
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) return ParseDouble(Trim(v.get_ref<const std::string&>()));
  if (v.is_array() || v.is_object()) return static_cast<double>(v.size());
  return std::nullopt;
}

std::optional<Failure> Credentials::Get(std::string* user, std::string* password) {
  if (!from_cookie()) {
    *user = auth_.user;
    *password = auth_.password;
    return std::nullopt;
  }
  if (!cookie_loaded_) {
    Result<std::string> text = ReadFile(auth_.cookie_file, 4096);
    // The error names the file only: its content is the secret.
    if (!text.ok()) return Failure{"cookie_unreadable", "cannot read cookie file " + auth_.cookie_file};
    std::string_view line = Trim(*text);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Failure{"bad_cookie", "cookie file " + auth_.cookie_file + " is not user:password"};
    }
    cookie_user_ = std::string(line.substr(0, colon));
    cookie_password_ = std::string(line.substr(colon + 1));
    cookie_loaded_ = true;
  }
  *user = cookie_user_;
  *password = cookie_password_;
  return std::nullopt;
}

std::optional<Failure> Credentials::Authenticate(HttpRequest* req) {
  if (!empty()) return Get(&req->user, &req->password);
  req->user = req->url.user;
  req->password = req->url.password;
  return std::nullopt;
}

Failure Credentials::StatusFailure(int status) {
  bool auth = status == 401 || status == 403;
  if (auth) Invalidate();
  return Failure{auth ? "auth_failed" : "http_" + std::to_string(status),
                 "unexpected HTTP status " + std::to_string(status)};
}

std::optional<Failure> JsonRpcClient::Call(const std::string& method, const json& params, SteadyTime deadline,
                                           RpcReply* reply, int* http_status) {
  json request = {{"method", method}, {"params", params}};
  if (version_ == "2.0") {
    request["jsonrpc"] = "2.0";
    request["id"] = next_id_++;
  } else {
    request["jsonrpc"] = "1.0";  // bitcoind accepts and ignores it
    request["id"] = "vigil";
  }
  HttpRequest req;
  req.url = url_;
  req.method = "POST";
  req.body = request.dump();
  req.content_type = version_ == "2.0" ? "application/json" : "text/plain";
  req.tls_verify = tls_verify_;
  req.deadline = deadline;
  // A rotated cookie (bitcoind restarted) shows as 401: read the file again once.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!credentials_.empty()) {
      if (auto f = credentials_.Get(&req.user, &req.password)) return f;
    } else {
      req.user = url_.user;
      req.password = url_.password;
    }
    HttpResponse res;
    if (auto f = HttpExchange(req, &res)) return f;
    if (http_status != nullptr) *http_status = res.status;
    if (res.status == 401 || res.status == 403) {
      if (attempt == 0 && credentials_.from_cookie()) {
        credentials_.Invalidate();
        continue;
      }
      return Failure{"auth_failed", "HTTP " + std::to_string(res.status) + " for method " + method};
    }
    // bitcoind sends RPC errors with HTTP 500 (404 for an unknown method) and the error object in the body.
    auto parse_failure = ParseRpcResponse(res.body, reply);
    if (!parse_failure) return std::nullopt;
    if (res.status < 200 || res.status > 299) {
      return Failure{"http_" + std::to_string(res.status),
                     "HTTP " + std::to_string(res.status) + " for method " + method};
    }
    parse_failure->detail += " (method " + method + ")";
    return parse_failure;
  }
  return Failure{"auth_failed", "HTTP 401 for method " + method};
}

}  // namespace vigil::probe

// The HTTP(S), TCP and JSON-RPC probes.
#include <re2/re2.h>
#include <unistd.h>

#include <algorithm>

#include "probe/jsonrpc.h"
#include "probe/net.h"
#include "probe/probe.h"
#include "probe/probe_base.h"

namespace vigil::probe {
namespace {

using nlohmann::json;

Status CheckCommon(const ProbeCommon& c) {
  if (c.service.empty() || c.name.empty()) return Status::Error("probe needs a service and a name");
  if (c.timeout.count() <= 0) return Status::Error("probe " + c.name + ": timeout must be positive");
  return Status::Ok();
}

class HttpProbe final : public ProbeBase {
 public:
  HttpProbe(HttpProbeOptions o, ParsedUrl url, std::unique_ptr<RE2> re, std::optional<json> equals)
      : ProbeBase(o.common, url.redacted),
        o_(std::move(o)),
        url_(std::move(url)),
        re_(std::move(re)),
        equals_(std::move(equals)),
        credentials_(o_.auth) {}

 protected:
  std::optional<Failure> Run(const collect::CollectContext&, SteadyTime deadline, MetricBatch& out) override {
    HttpRequest req;
    req.url = url_;
    req.method = o_.method;
    req.body = o_.body;
    req.headers = o_.headers;
    req.tls_verify = o_.tls_verify;
    req.deadline = deadline;
    if (auto f = credentials_.Authenticate(&req)) return f;
    HttpResponse res;
    if (auto f = HttpExchange(req, &res)) return f;
    out.AddGauge("vigil_probe_http_status_code", "HTTP status of the probe's last response.", labels(), res.status);
    bool status_ok = o_.expected_status.empty() ? res.status >= 200 && res.status <= 299
                                                : std::find(o_.expected_status.begin(), o_.expected_status.end(),
                                                            res.status) != o_.expected_status.end();
    if (!status_ok) return credentials_.StatusFailure(res.status);
    if (re_ == nullptr && o_.json_pointer.empty()) return std::nullopt;
    bool match = true;
    std::optional<Failure> failure;
    if (re_ != nullptr && !RE2::PartialMatch(res.body, *re_)) {
      match = false;
      failure = Failure{"body_mismatch", "body does not match the regex"};
    }
    if (!o_.json_pointer.empty() && !failure) {
      json doc = json::parse(res.body, nullptr, /*allow_exceptions=*/false);
      if (doc.is_discarded()) return Failure{"bad_json", "response is not valid JSON"};
      const json* v = FindPointer(doc, o_.json_pointer);
      if (v == nullptr) {
        match = false;
        failure = Failure{"missing_value", "no value at " + o_.json_pointer};
      } else if (equals_ && *v != *equals_) {
        match = false;
        failure = Failure{"body_mismatch", "value at " + o_.json_pointer + " differs from the expected one"};
      } else if (auto g = JsonToGauge(*v)) {
        Labels l = labels();
        l.Set("name", o_.json_pointer);
        out.AddGauge("vigil_probe_value", "A value extracted from the probe's response.", std::move(l), *g);
      }
    }
    out.AddGauge("vigil_probe_http_content_match", "1 when the body matched the configured regex or JSON value.",
                 labels(), match ? 1 : 0);
    return failure;
  }

 private:
  HttpProbeOptions o_;
  ParsedUrl url_;
  std::unique_ptr<RE2> re_;
  std::optional<json> equals_;
  Credentials credentials_;
};

class TcpProbe final : public ProbeBase {
 public:
  TcpProbe(TcpProbeOptions o, std::string host, int port)
      : ProbeBase(o.common, o.target), host_(std::move(host)), port_(port) {}

 protected:
  std::optional<Failure> Run(const collect::CollectContext&, SteadyTime deadline, MetricBatch&) override {
    int fd = -1;
    if (auto f = ConnectTcp(host_, port_, deadline, &fd)) return f;
    ::close(fd);
    return std::nullopt;
  }

 private:
  std::string host_;
  int port_;
};

class JsonRpcProbe final : public ProbeBase {
 public:
  JsonRpcProbe(JsonRpcProbeOptions o, ParsedUrl url, json params)
      : ProbeBase(o.common, url.redacted),
        o_(std::move(o)),
        params_(std::move(params)),
        client_(std::move(url), o_.version, o_.auth, o_.tls_verify) {}

 protected:
  std::optional<Failure> Run(const collect::CollectContext&, SteadyTime deadline, MetricBatch& out) override {
    RpcReply reply;
    int status = 0;
    std::optional<Failure> f = client_.Call(o_.method, params_, deadline, &reply, &status);
    if (status != 0) {
      out.AddGauge("vigil_probe_http_status_code", "HTTP status of the probe's last response.", labels(), status);
    }
    if (f) return f;
    out.AddGauge("vigil_probe_jsonrpc_error_code", "Code of the JSON-RPC error object in the last response (0: none).",
                 labels(), reply.has_error ? static_cast<double>(reply.error_code) : 0);
    if (reply.has_error) {
      return Failure{"rpc_error",
                     o_.method + ": error " + std::to_string(reply.error_code) + ": " + reply.error_message};
    }
    std::optional<Failure> failure;
    for (const auto& e : o_.extract) {
      const json* v = FindPointer(reply.result, e.pointer);
      std::optional<double> g = v == nullptr ? std::nullopt : JsonToGauge(*v);
      if (!g) {
        if (!failure) failure = Failure{"missing_value", "no numeric value at " + e.pointer + " for " + e.name};
        continue;
      }
      Labels l = labels();
      l.Set("name", e.name);
      out.AddGauge("vigil_probe_value", "A value extracted from the probe's response.", std::move(l), *g);
    }
    return failure;
  }

 private:
  JsonRpcProbeOptions o_;
  json params_;
  JsonRpcClient client_;
};

}  // namespace

Result<std::unique_ptr<collect::Collector>> NewHttpProbe(HttpProbeOptions o) {
  if (Status s = CheckCommon(o.common); !s.ok()) return s;
  auto url = ParseUrl(o.url);
  if (!url) return Status::Error("probe " + o.common.name + ": bad URL (want http(s)://host[:port]/path)");
  if (o.method != "GET" && o.method != "HEAD" && o.method != "POST") {
    return Status::Error("probe " + o.common.name + ": method must be GET, HEAD or POST");
  }
  std::unique_ptr<RE2> re;
  if (!o.body_regex.empty()) {
    RE2::Options opts;
    opts.set_log_errors(false);
    re = std::make_unique<RE2>(o.body_regex, opts);
    if (!re->ok()) return Status::Error("probe " + o.common.name + ": bad body regex: " + re->error());
  }
  if (!o.json_pointer.empty() && !ValidPointer(o.json_pointer)) {
    return Status::Error("probe " + o.common.name + ": bad JSON pointer " + o.json_pointer);
  }
  std::optional<json> equals;
  if (o.json_equals) {
    json v = json::parse(*o.json_equals, nullptr, false);
    if (v.is_discarded()) return Status::Error("probe " + o.common.name + ": expected value is not JSON");
    equals = std::move(v);
  }
  ParsedUrl u = std::move(*url);
  return std::unique_ptr<collect::Collector>(
      std::make_unique<HttpProbe>(std::move(o), std::move(u), std::move(re), std::move(equals)));
}

Result<std::unique_ptr<collect::Collector>> NewTcpProbe(TcpProbeOptions o) {
  if (Status s = CheckCommon(o.common); !s.ok()) return s;
  std::string host;
  int port = 0;
  if (!SplitHostPort(o.target, &host, &port))
    return Status::Error("probe " + o.common.name + ": target must be host:port");
  return std::unique_ptr<collect::Collector>(std::make_unique<TcpProbe>(std::move(o), std::move(host), port));
}

Result<std::unique_ptr<collect::Collector>> NewJsonRpcProbe(JsonRpcProbeOptions o) {
  if (Status s = CheckCommon(o.common); !s.ok()) return s;
  auto url = ParseUrl(o.url);
  if (!url) return Status::Error("probe " + o.common.name + ": bad URL (want http(s)://host[:port]/path)");
  if (o.version != "1.0" && o.version != "2.0")
    return Status::Error("probe " + o.common.name + ": version must be 1.0 or 2.0");
  if (o.method.empty()) return Status::Error("probe " + o.common.name + ": method is required");
  json params = json::parse(o.params_json.empty() ? "[]" : o.params_json, nullptr, false);
  if (params.is_discarded() || !(params.is_array() || params.is_object())) {
    return Status::Error("probe " + o.common.name + ": params must be a JSON array or object");
  }
  for (const auto& e : o.extract) {
    if (e.name.empty() || !ValidPointer(e.pointer)) {
      return Status::Error("probe " + o.common.name + ": extract needs a name and a valid JSON pointer");
    }
  }
  ParsedUrl u = std::move(*url);
  return std::unique_ptr<collect::Collector>(
      std::make_unique<JsonRpcProbe>(std::move(o), std::move(u), std::move(params)));
}

}  // namespace vigil::probe

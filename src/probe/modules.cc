// The built-in modules of the validator stack: bitcoind, titan and the Arch
// validator, and the heights they share.
#include "base/log.h"
#include "probe/jsonrpc.h"
#include "probe/probe.h"

namespace vigil::probe {

using nlohmann::json;

void ChainHeights::Set(const std::string& source, int64_t height, TimestampMs time_ms) {
  std::lock_guard lock(mu_);
  heights_[source] = Height{height, time_ms};
}

std::optional<ChainHeights::Height> ChainHeights::Get(const std::string& source) const {
  std::lock_guard lock(mu_);
  auto it = heights_.find(source);
  if (it == heights_.end()) return std::nullopt;
  return it->second;
}

std::string BitcoindHeightSource(const std::string& service) { return "bitcoind/" + service; }

namespace {

std::string TitanHeightSource(const std::string& service) { return "titan/" + service; }

// A number (or boolean, as 0/1) field of an object; nullopt when absent or of another type.
std::optional<double> Field(const json& obj, const char* key) {
  if (!obj.is_object()) return std::nullopt;
  auto it = obj.find(key);
  if (it == obj.end() || !(it->is_number() || it->is_boolean())) return std::nullopt;
  return JsonToGauge(*it);
}

std::string RpcErrorDetail(const std::string& method, const RpcReply& r) {
  return method + ": error " + std::to_string(r.error_code) + ": " + r.error_message;
}

class BitcoindCollector final : public collect::Collector {
 public:
  BitcoindCollector(BitcoindOptions o, ParsedUrl url)
      : o_(std::move(o)),
        name_(o_.collector_name.empty() ? "bitcoind/" + o_.service : o_.collector_name),
        target_(url.redacted),
        client_(std::move(url), "1.0", o_.auth, /*tls_verify=*/true) {}

  std::string_view name() const override { return name_; }

  Status Collect(const collect::CollectContext& ctx, MetricBatch& out) override {
    SteadyTime deadline = DeadlineFrom(ctx.deadline, o_.timeout);
    const Labels l{{"service", o_.service}};
    bool stop = false, warming_up = false;
    int answered = 0;
    // Calls `method`; on a transport failure the remaining calls are skipped
    // (one error per collection, not four), and an RPC error is reported by name.
    auto call = [&](const std::string& method, RpcReply* r) {
      if (stop) return false;
      if (auto f = client_.Call(method, json::array(), deadline, r)) {
        out.ReportError(f->reason, method + ": " + f->detail, target_);
        stop = true;
        return false;
      }
      Labels ml = l;
      ml.Set("method", method);
      out.AddGauge("vigil_bitcoind_rpc_error_code", "Code of the JSON-RPC error of the method's last call (0: none).",
                   std::move(ml), r->has_error ? static_cast<double>(r->error_code) : 0);
      if (!r->has_error) {
        ++answered;
        return true;
      }
      if (r->error_code == -28) {
        // RPC_IN_WARMUP: bitcoind is loading its block index; every method answers so.
        warming_up = stop = true;
        out.ReportError("rpc_warming_up", RpcErrorDetail(method, *r), target_);
      } else {
        out.ReportError("rpc_error", RpcErrorDetail(method, *r), target_);
      }
      return false;
    };

    RpcReply r;
    if (call("getblockchaininfo", &r)) BlockchainInfo(ctx, r.result, l, out);
    if (call("getnetworkinfo", &r)) NetworkInfo(r.result, l, out);
    if (call("getmempoolinfo", &r)) MempoolInfo(r.result, l, out);
    if (call("getpeerinfo", &r)) {
      if (r.result.is_array()) {
        out.AddGauge("vigil_bitcoind_peers", "Peers in getpeerinfo.", l, static_cast<double>(r.result.size()));
      } else {
        out.ReportError("bad_response", "getpeerinfo: result is not an array", target_);
      }
    }
    out.AddGauge("vigil_bitcoind_up", "1 when every RPC call of the last collection succeeded.", l,
                 answered == 4 ? 1 : 0);
    out.AddGauge("vigil_bitcoind_warming_up", "1 while bitcoind answers RPC error -28 (loading, warming up).", l,
                 warming_up ? 1 : 0);
    return Status::Ok();
  }

 private:
  void BlockchainInfo(const collect::CollectContext& ctx, const json& res, const Labels& l, MetricBatch& out) {
    auto blocks = Field(res, "blocks");
    auto headers = Field(res, "headers");
    if (!blocks || !headers) {
      out.ReportError("bad_response", "getblockchaininfo: no blocks or headers", target_);
      return;
    }
    out.AddGauge("vigil_bitcoind_blocks", "Height of the validated chain (getblockchaininfo blocks).", l, *blocks);
    out.AddGauge("vigil_bitcoind_headers", "Height of the best known header chain.", l, *headers);
    out.AddGauge("vigil_bitcoind_sync_lag_blocks", "headers - blocks: blocks known but not yet validated.", l,
                 *headers - *blocks);
    if (o_.heights) o_.heights->Set(BitcoindHeightSource(o_.service), static_cast<int64_t>(*blocks), ctx.now_ms);
    if (auto v = Field(res, "verificationprogress")) {
      out.AddGauge("vigil_bitcoind_verification_progress", "Estimated verification progress, 0..1.", l, *v);
    }
    if (auto v = Field(res, "initialblockdownload")) {
      out.AddGauge("vigil_bitcoind_initial_block_download", "1 while in initial block download.", l, *v);
    }
    if (auto v = Field(res, "size_on_disk")) {
      out.AddGauge("vigil_bitcoind_size_on_disk_bytes", "Block and undo files on disk in bytes.", l, *v);
    }
    if (auto v = Field(res, "pruned")) out.AddGauge("vigil_bitcoind_pruned", "1 when the node is pruned.", l, *v);
    if (auto t = Field(res, "time")) {
      out.AddGauge("vigil_bitcoind_best_block_time_seconds", "Block time of the best block, Unix seconds.", l, *t);
      out.AddGauge("vigil_bitcoind_best_block_age_seconds", "Now minus the best block's time in seconds.", l,
                   static_cast<double>(ctx.now_ms) / 1000.0 - *t);
    }
    // Bitcoin Core 28 turned `warnings` from a string into a list of strings.
    bool warnings = false;
    if (auto it = res.find("warnings"); it != res.end()) {
      warnings = (it->is_string() && !it->get_ref<const std::string&>().empty()) || (it->is_array() && !it->empty());
    }
    out.AddGauge("vigil_bitcoind_warnings", "1 when bitcoind reports warnings (getblockchaininfo warnings).", l,
                 warnings ? 1 : 0);
    if (auto it = res.find("chain"); it != res.end() && it->is_string()) {
      Labels cl = l;
      cl.Set("chain", it->get_ref<const std::string&>().substr(0, 32));
      out.AddGauge("vigil_bitcoind_chain_info", "The chain bitcoind follows, as a label; always 1.", std::move(cl), 1);
    }
  }

  void NetworkInfo(const json& res, const Labels& l, MetricBatch& out) {
    static constexpr std::pair<const char*, const char*> kFields[] = {
        {"connections", "vigil_bitcoind_connections"},
        {"connections_in", "vigil_bitcoind_connections_in"},
        {"connections_out", "vigil_bitcoind_connections_out"},
        {"networkactive", "vigil_bitcoind_network_active"},
    };
    for (const auto& [key, metric] : kFields) {
      if (auto v = Field(res, key)) out.AddGauge(metric, "From getnetworkinfo.", l, *v);
    }
    if (auto v = Field(res, "version")) out.AddGauge("vigil_bitcoind_version", "bitcoind's numeric version.", l, *v);
  }

  void MempoolInfo(const json& res, const Labels& l, MetricBatch& out) {
    static constexpr std::pair<const char*, const char*> kFields[] = {
        {"size", "vigil_bitcoind_mempool_transactions"},
        {"bytes", "vigil_bitcoind_mempool_bytes"},
        {"usage", "vigil_bitcoind_mempool_usage_bytes"},
        {"maxmempool", "vigil_bitcoind_mempool_max_bytes"},
    };
    for (const auto& [key, metric] : kFields) {
      if (auto v = Field(res, key)) out.AddGauge(metric, "From getmempoolinfo.", l, *v);
    }
  }

  BitcoindOptions o_;
  std::string name_;
  std::string target_;
  JsonRpcClient client_;
};

class TitanCollector final : public collect::Collector {
 public:
  TitanCollector(TitanOptions o, ParsedUrl url)
      : o_(std::move(o)), name_(o_.collector_name.empty() ? "titan/" + o_.service : o_.collector_name) {
    std::string& p = url.path_and_query;
    p = p.substr(0, p.find('?'));
    while (!p.empty() && p.back() == '/') p.pop_back();
    p += "/status";
    url.redacted = url.redacted.substr(0, url.redacted.find('/', url.scheme.size() + 3)) + p;
    url_ = std::move(url);
  }

  std::string_view name() const override { return name_; }

  Status Collect(const collect::CollectContext& ctx, MetricBatch& out) override {
    const Labels l{{"service", o_.service}};
    bool up = Read(ctx, l, out);
    out.AddGauge("vigil_titan_up", "1 when titan's /status answered with the expected fields.", l, up ? 1 : 0);
    return Status::Ok();
  }

 private:
  bool Read(const collect::CollectContext& ctx, const Labels& l, MetricBatch& out) {
    HttpRequest req;
    req.url = url_;
    req.deadline = DeadlineFrom(ctx.deadline, o_.timeout);
    req.user = url_.user;
    req.password = url_.password;
    HttpResponse res;
    auto fail = [&](const Failure& f) {
      out.ReportError(f.reason, f.detail, url_.redacted);
      return false;
    };
    if (auto f = HttpExchange(req, &res)) return fail(*f);
    if (res.status < 200 || res.status > 299) {
      return fail({"http_" + std::to_string(res.status), "GET /status: HTTP " + std::to_string(res.status)});
    }
    json doc = json::parse(res.body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return fail({"bad_json", "GET /status: response is not valid JSON"});
    const json* tip = FindPointer(doc, "/block_tip");
    auto height = tip == nullptr ? std::nullopt : Field(*tip, "height");
    if (!height) return fail({"bad_response", "GET /status: no block_tip.height"});
    out.AddGauge("vigil_titan_block_height", "Height of titan's indexed tip.", l, *height);
    if (auto v = Field(*tip, "is_at_tip")) {
      out.AddGauge("vigil_titan_is_at_tip", "1 when titan reports its index at bitcoind's tip.", l, *v);
    }
    if (auto v = Field(doc, "mempool_tx_count")) {
      out.AddGauge("vigil_titan_mempool_tx_count", "Mempool transactions titan tracks.", l, *v);
    }
    if (auto v = Field(doc, "runes_count")) out.AddGauge("vigil_titan_runes_count", "Runes titan has indexed.", l, *v);
    if (o_.heights) {
      o_.heights->Set(TitanHeightSource(o_.service), static_cast<int64_t>(*height), ctx.now_ms);
      if (!o_.bitcoind_service.empty()) {
        // Only a recent bitcoind height is compared: a stale one would report a lag that is not there.
        auto b = o_.heights->Get(BitcoindHeightSource(o_.bitcoind_service));
        if (b && ctx.now_ms - b->time_ms <= o_.max_height_age.count()) {
          Labels ll = l;
          ll.Set("bitcoind", o_.bitcoind_service);
          out.AddGauge("vigil_titan_height_lag_blocks", "bitcoind blocks minus titan's indexed height.", std::move(ll),
                       static_cast<double>(b->height) - *height);
        }
      }
    }
    return true;
  }

  TitanOptions o_;
  std::string name_;
  ParsedUrl url_;
};

class ValidatorCollector final : public collect::Collector {
 public:
  ValidatorCollector(ValidatorOptions o, ParsedUrl url, std::vector<ParsedUrl> refs)
      : o_(std::move(o)),
        name_(o_.collector_name.empty() ? "validator/" + o_.service : o_.collector_name),
        target_(url.redacted),
        client_(std::move(url), "2.0", {}, o_.tls_verify) {
    for (auto& r : refs)
      references_.push_back(std::make_unique<JsonRpcClient>(std::move(r), "2.0", BasicAuth{}, o_.tls_verify));
  }

  std::string_view name() const override { return name_; }

  Status Collect(const collect::CollectContext& ctx, MetricBatch& out) override {
    SteadyTime deadline = DeadlineFrom(ctx.deadline, o_.timeout);
    const Labels l{{"service", o_.service}};
    bool stop = false;
    int answered = 0;
    // Only read-only methods: a monitor never calls start_dkg, reset_network and the like.
    auto call = [&](const char* method, RpcReply* r) {
      if (stop) return false;
      if (auto f = client_.Call(method, json::array(), deadline, r)) {
        out.ReportError(f->reason, std::string(method) + ": " + f->detail, target_);
        stop = true;
        return false;
      }
      if (r->has_error) {
        out.ReportError("rpc_error", RpcErrorDetail(method, *r), target_);
        return false;
      }
      ++answered;
      return true;
    };
    RpcReply r;
    std::optional<double> height;
    if (call("is_node_ready", &r)) {
      if (auto v = JsonToGauge(r.result)) out.AddGauge("vigil_validator_ready", "1 when is_node_ready is true.", l, *v);
    }
    if (call("get_block_count", &r)) {
      height = JsonToGauge(r.result);
      if (height) out.AddGauge("vigil_validator_block_height", "The validator's block count.", l, *height);
    }
    if (call("get_peers", &r)) {
      if (auto v = JsonToGauge(r.result)) out.AddGauge("vigil_validator_peers", "Peers in get_peers.", l, *v);
    }
    out.AddGauge("vigil_validator_up", "1 when every RPC call of the last collection succeeded.", l,
                 answered == 3 ? 1 : 0);

    std::optional<double> best_reference;
    for (auto& ref : references_) {
      RpcReply rr;
      const std::string& t = ref->url().redacted;
      if (auto f = ref->Call("get_block_count", json::array(), deadline, &rr)) {
        out.ReportError(f->reason, "reference get_block_count: " + f->detail, t);
        continue;
      }
      std::optional<double> h = rr.has_error ? std::nullopt : JsonToGauge(rr.result);
      if (!h) {
        out.ReportError(rr.has_error ? "rpc_error" : "bad_response", "reference get_block_count: no height", t);
        continue;
      }
      Labels rl = l;
      rl.Set("reference", t);
      out.AddGauge("vigil_validator_reference_block_height", "Block count of a reference endpoint.", std::move(rl), *h);
      if (!best_reference || *h > *best_reference) best_reference = h;
    }
    if (height && best_reference) {
      out.AddGauge("vigil_validator_height_lag_blocks", "Highest reference block count minus the validator's.", l,
                   *best_reference - *height);
    }
    return Status::Ok();
  }

 private:
  ValidatorOptions o_;
  std::string name_;
  std::string target_;
  JsonRpcClient client_;
  std::vector<std::unique_ptr<JsonRpcClient>> references_;
};

}  // namespace

Result<std::unique_ptr<collect::Collector>> NewBitcoindCollector(BitcoindOptions o) {
  auto url = ParseUrl(o.url);
  if (!url) return Status::Error("bitcoind " + o.service + ": bad URL (want http(s)://host:port/)");
  if (o.timeout.count() <= 0) return Status::Error("bitcoind " + o.service + ": timeout must be positive");
  ParsedUrl u = std::move(*url);
  return std::unique_ptr<collect::Collector>(std::make_unique<BitcoindCollector>(std::move(o), std::move(u)));
}

Result<std::unique_ptr<collect::Collector>> NewTitanCollector(TitanOptions o) {
  auto url = ParseUrl(o.url);
  if (!url) return Status::Error("titan " + o.service + ": bad URL (want http(s)://host:port)");
  if (o.timeout.count() <= 0) return Status::Error("titan " + o.service + ": timeout must be positive");
  ParsedUrl u = std::move(*url);
  return std::unique_ptr<collect::Collector>(std::make_unique<TitanCollector>(std::move(o), std::move(u)));
}

Result<std::unique_ptr<collect::Collector>> NewValidatorCollector(ValidatorOptions o) {
  auto url = ParseUrl(o.url);
  if (!url) return Status::Error("validator " + o.service + ": bad URL (want http(s)://host:port/)");
  if (o.timeout.count() <= 0) return Status::Error("validator " + o.service + ": timeout must be positive");
  std::vector<ParsedUrl> refs;
  for (const auto& r : o.references) {
    if (r.empty()) continue;  // `${ARCH_REFERENCE_RPC:-}` left unset
    auto ru = ParseUrl(r);
    if (!ru) return Status::Error("validator " + o.service + ": bad reference URL");
    refs.push_back(std::move(*ru));
  }
  ParsedUrl u = std::move(*url);
  return std::unique_ptr<collect::Collector>(
      std::make_unique<ValidatorCollector>(std::move(o), std::move(u), std::move(refs)));
}

}  // namespace vigil::probe

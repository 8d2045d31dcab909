#include "incidents/capacity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "api/format.h"
#include "base/log.h"

namespace vigil::incidents {
namespace {

using nlohmann::json;
constexpr double kGiB = 1024.0 * 1024 * 1024;
constexpr double kMiB = 1024.0 * 1024;
constexpr double kDay = 86400;
// Headroom the "grow it by" figure buys: this long at the fast end of the band.
constexpr double kGrowForSeconds = 90 * kDay;

std::string Printf(const char* fmt, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, a);
  return buf;
}

std::string Bytes(double b) {
  if (std::fabs(b) >= kGiB) return Printf("%.1f GiB", b / kGiB);
  return Printf("%.0f MiB", b / kMiB);
}

std::string PerDay(double bytes_per_second) { return Bytes(bytes_per_second * kDay) + "/day"; }

std::string Days(const std::optional<double>& seconds) {
  if (!seconds) return "never";
  double d = *seconds / kDay;
  return d >= 10 ? Printf("%.0f", d) : Printf("%.1f", d);
}

std::string Date(double unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

std::string HorizonName(double seconds) {
  if (std::fmod(seconds, kDay) == 0) return Printf("%.0fd", seconds / kDay);
  return Printf("%.0fs", seconds);
}

json OptionalDays(const std::optional<double>& seconds) { return seconds ? json(*seconds / kDay) : json(nullptr); }

}  // namespace

std::string Recommend(const ResourceForecast& r, double now_seconds) {
  const std::string who = r.resource == "filesystem" ? "`" + r.name + "`"
                          : r.resource == "memory"   ? "host memory"
                          : r.resource == "data_dir" ? r.service + "'s data `" + r.name + "`"
                                                     : r.name;
  if (!r.forecast) return who + ": no forecast (" + r.error + ")";
  const Forecast& f = *r.forecast;
  const double headroom = r.capacity_bytes - f.used;
  const std::string band = "(" + Days(f.seconds_to_full_low) + "–" + Days(f.seconds_to_full_high) + ")";
  if (r.resource == "data_dir") {
    // Its room is what it holds plus what its filesystem has left.
    const std::string fs = "`" + r.mountpoint + "`";
    if (!f.seconds_to_full) {
      return who + " is " + Bytes(r.used_bytes) + ", not growing (" + PerDay(f.rate) + " over " +
             HorizonName(f.estimate_horizon_seconds) + "): " + Bytes(headroom) + " left on " + fs;
    }
    double need = std::max(0.0, f.rate_high * kGrowForSeconds - headroom);
    need = std::ceil(need / (10 * kGiB)) * 10 * kGiB;
    double deadline = now_seconds + f.seconds_to_full_low.value_or(*f.seconds_to_full);
    return who + " (" + Bytes(r.used_bytes) + ") grows " + PerDay(f.rate) + " and fills the " + Bytes(headroom) +
           " left on " + fs + " in " + Days(f.seconds_to_full) + " days " + band + ": grow " + fs + " by " +
           Bytes(need) + " or enable pruning before " + Date(deadline);
  }
  if (r.resource == "filesystem") {
    if (!f.seconds_to_full) {
      return who + " is not filling (" + PerDay(f.rate) + " over " + HorizonName(f.estimate_horizon_seconds) +
             "): " + Bytes(r.capacity_bytes - r.used_bytes) + " of " + Bytes(r.capacity_bytes) + " free";
    }
    // Enough for kGrowForSeconds at the fast end of the band, in whole 10 GiB.
    double need = std::max(0.0, f.rate_high * kGrowForSeconds - headroom);
    need = std::ceil(need / (10 * kGiB)) * 10 * kGiB;
    double deadline = now_seconds + f.seconds_to_full_low.value_or(*f.seconds_to_full);
    return who + " fills in " + Days(f.seconds_to_full) + " days " + band + " at " + PerDay(f.rate) + ": grow it by " +
           Bytes(need) + " or free space (enable pruning) before " + Date(deadline);
  }
  std::string out = who +
                    (r.resource == "memory" ? " is " + Bytes(r.used_bytes) + " used" : " uses " + Bytes(r.used_bytes)) +
                    " of " + Printf("%.1f", r.capacity_bytes / kGiB) +
                    (r.capacity_source == "MemTotal" || r.resource == "memory" ? "" : " (" + r.capacity_source + ")") +
                    ": headroom " + Printf("%.0f%%", 100 * (1 - r.used_bytes / r.capacity_bytes));
  // A steady climb: even the slowest rate of the band grows.
  if (f.seconds_to_full && f.rate_low > 0) {
    out += "; climbing " + PerDay(f.rate) + (r.resource == "service_memory" ? " (suspected leak)" : "") +
           ", reaches it in " + Days(f.seconds_to_full) + " days " + band;
  }
  return out;
}

CapacityReport BuildReport(const std::vector<ResourceHistory>& histories, double now_seconds,
                           const ForecastOptions& options) {
  CapacityReport report;
  report.time_seconds = now_seconds;
  for (const ResourceHistory& h : histories) {
    ResourceForecast r;
    r.resource = h.resource;
    r.name = h.name;
    r.capacity_source = h.capacity_source;
    r.capacity_bytes = h.capacity_bytes;
    r.service = h.service;
    r.mountpoint = h.mountpoint;
    r.used_bytes = h.used.empty() ? 0 : h.used.back().used;
    auto f = ForecastUsage(h.used, h.capacity_bytes, options);
    if (f.ok()) {
      r.forecast = std::move(*f);
    } else {
      r.error = f.status().message();
    }
    r.recommendation = Recommend(r, now_seconds);
    report.resources.push_back(std::move(r));
  }
  return report;
}

std::string ToResponseJson(const CapacityReport& report) {
  json resources = json::array();
  for (const ResourceForecast& r : report.resources) {
    json j = {{"resource", r.resource},
              {"name", r.name},
              {"usedBytes", r.used_bytes},
              {"capacityBytes", r.capacity_bytes},
              {"capacitySource", r.capacity_source},
              {"recommendation", r.recommendation}};
    if (!r.service.empty()) j["service"] = r.service;
    if (!r.mountpoint.empty()) j["mountpoint"] = r.mountpoint;
    if (!r.forecast) {
      j["error"] = r.error;
    } else {
      const Forecast& f = *r.forecast;
      json growth = json::array();
      for (const HorizonGrowth& g : f.horizons) {
        growth.push_back({{"horizon", HorizonName(g.horizon_seconds)},
                          {"coveredSeconds", g.covered_seconds},
                          {"bytesPerSecond", g.rate},
                          {"steps", g.steps}});
      }
      j["growth"] = growth;
      j["bytesPerSecond"] = {{"estimate", f.rate}, {"low", f.rate_low}, {"high", f.rate_high}};
      j["estimateHorizon"] = HorizonName(f.estimate_horizon_seconds);
      j["daysToFull"] = {{"estimate", OptionalDays(f.seconds_to_full)},
                         {"low", OptionalDays(f.seconds_to_full_low)},
                         {"high", OptionalDays(f.seconds_to_full_high)}};
      j["recurringSteps"] = f.recurring_steps;
      j["steps"] = f.steps;
    }
    resources.push_back(std::move(j));
  }
  json out = {{"status", "success"}, {"data", {{"time", report.time_seconds}, {"resources", resources}}}};
  return out.dump();
}

void AppendMetrics(const CapacityReport& report, MetricBatch& out) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (report.compute_seconds > 0) {
    out.AddGauge("vigil_capacity_compute_seconds",
                 "How long the last forecast of every resource took, reading its history included.", {},
                 report.compute_seconds);
  }
  for (const ResourceForecast& r : report.resources) {
    if (!r.forecast) continue;
    const Forecast& f = *r.forecast;
    Labels base{{"resource", r.resource}, {"name", r.name}};
    base.Set("service", r.service);  // data_dir only: whose data (Set skips an empty value)
    for (const HorizonGrowth& g : f.horizons) {
      if (g.covered_seconds < g.horizon_seconds / 2) continue;  // too little of it seen to say
      Labels l = base;
      l.Set("horizon", HorizonName(g.horizon_seconds));
      out.AddGauge("vigil_capacity_growth_bytes_per_second",
                   "Growth of a resource's use, net of recurring deletions (rotation, pruning), per horizon.", l,
                   g.rate);
    }
    const std::pair<const char*, const std::optional<double>*> bounds[] = {
        {"estimate", &f.seconds_to_full}, {"low", &f.seconds_to_full_low}, {"high", &f.seconds_to_full_high}};
    for (const auto& [bound, seconds] : bounds) {
      Labels l = base;
      l.Set("bound", bound);
      out.AddGauge("vigil_capacity_days_to_full",
                   "Days until the resource is full at its current growth (+Inf: not filling); low and high bound "
                   "the uncertainty.",
                   l, *seconds ? **seconds / kDay : kInf);
    }
    out.AddGauge("vigil_capacity_headroom_ratio", "Fraction of the resource's capacity still free.", base,
                 1 - r.used_bytes / r.capacity_bytes);
  }
}

// --- Reading the store ---------------------------------------------------------------

struct CapacityReporter::Impl {
  CapacityOptions o;
  mutable std::mutex mu;  // guards cached
  mutable std::optional<CapacityReport> cached;
  mutable TimestampMs cached_at = 0;

  // A range query; a failure is logged and reads as no series.
  std::vector<promql::SeriesPoints> Range(const std::string& q, TimestampMs start, TimestampMs end, Duration step,
                                          Duration resolution) const {
    auto expr = promql::ParseExpr(q);
    if (!expr.ok()) {
      LogWarn("capacity: bad query", {{"query", q}, {"err", expr.status().message()}});
      return {};
    }
    promql::EngineOptions eo = o.engine;
    eo.max_read_resolution = resolution;
    promql::QueryResult r = promql::Engine(eo).Range(o.storage, **expr, start, end, step);
    if (!r.ok) {
      LogWarn("capacity: query failed", {{"query", q}, {"err", r.error.message}});
      return {};
    }
    return std::move(r.value.matrix);
  }

  // A series by the values of the labels it was read by, in their order.
  using SeriesKey = std::vector<std::string>;

  // By the values of `labels`: the 30-day read at 1 h, or the 2-day read at
  // 5 m where the long one has less than a day of points (a young store).
  std::map<SeriesKey, std::vector<UsagePoint>> Read(const std::string& q, const std::vector<std::string>& labels,
                                                    TimestampMs now) const {
    std::map<SeriesKey, std::vector<UsagePoint>> out;
    auto take = [&](const std::vector<promql::SeriesPoints>& m, size_t min_points) {
      for (const auto& s : m) {
        SeriesKey key;
        for (const std::string& l : labels) key.emplace_back(s.labels.Get(l));
        if (out.count(key) && out[key].size() >= min_points) continue;
        std::vector<UsagePoint> p;
        for (const auto& pt : s.points) p.push_back({static_cast<double>(pt.t) / 1000, pt.v});
        if (p.size() > out[key].size()) out[key] = std::move(p);
      }
    };
    take(Range(q, now - 30 * 86'400'000LL, now, Duration(3'600'000), Duration(3'600'000)), 0);
    bool young = out.empty();
    for (const auto& [k, v] : out) young |= v.size() < 24;
    if (young) take(Range(q, now - 2 * 86'400'000LL, now, Duration(300'000), Duration(300'000)), 24);
    return out;
  }

  static double Last(const std::map<SeriesKey, std::vector<UsagePoint>>& m, const SeriesKey& key) {
    auto it = m.find(key);
    return it == m.end() || it->second.empty() ? 0 : it->second.back().used;
  }

  CapacityReport Compute(TimestampMs now) const {
    std::vector<ResourceHistory> histories;
    const std::string fs = "{fstype!~\"tmpfs|ramfs|squashfs|overlay|nsfs\"}";
    auto fs_used =
        Read("node_filesystem_size_bytes" + fs + " - node_filesystem_avail_bytes" + fs, {"mountpoint"}, now);
    auto fs_size = Read("node_filesystem_size_bytes" + fs, {"mountpoint"}, now);
    for (auto& [mount, points] : fs_used) {
      histories.push_back({"filesystem", mount[0], std::move(points), Last(fs_size, mount), "filesystem size"});
    }
    auto mem_used = Read("sum(node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes)", {}, now);
    auto mem_total = Read("sum(node_memory_MemTotal_bytes)", {}, now);
    const double total = Last(mem_total, {});
    if (!mem_used.empty()) histories.push_back({"memory", "host", std::move(mem_used[{}]), total, "MemTotal"});
    // A service's ceiling is the sum of its units' MemoryMax when every unit
    // with memory has one; otherwise (unlimited) the host's memory.
    const std::string unit_memory = "vigil_systemd_unit_memory_bytes{service!=\"\"}";
    const std::string unit_limit = "vigil_systemd_unit_memory_max_bytes{service!=\"\"}";
    auto services = Read("sum by (service) (" + unit_memory + ")", {"service"}, now);
    auto limits = Read("sum by (service) (" + unit_limit + ") and on (service) (count by (service) (" + unit_limit +
                           ") >= count by (service) (" + unit_memory + "))",
                       {"service"}, now);
    for (auto& [service, points] : services) {
      const double limit = Last(limits, service);
      histories.push_back({"service_memory", service[0], std::move(points), limit > 0 ? limit : total,
                           limit > 0 ? "MemoryMax" : "host memory; no MemoryMax"});
    }
    // The chain data: each service's data directory against the room left on its filesystem.
    auto dir_used = Read("vigil_service_data_dir_bytes", {"service", "path", "mountpoint"}, now);
    auto dir_room = Read("vigil_service_data_dir_bytes + vigil_service_data_dir_filesystem_avail_bytes",
                         {"service", "path", "mountpoint"}, now);
    for (auto& [key, points] : dir_used) {
      ResourceHistory h{"data_dir", key[1], std::move(points), Last(dir_room, key),
                        "data and free space of its filesystem"};
      h.service = key[0];
      h.mountpoint = key[2];
      histories.push_back(std::move(h));
    }
    return BuildReport(histories, static_cast<double>(now) / 1000, o.forecast);
  }
};

CapacityReporter::CapacityReporter(CapacityOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->o = std::move(options);
}
CapacityReporter::~CapacityReporter() = default;

CapacityReport CapacityReporter::Build() const {
  const TimestampMs now = impl_->o.clock->NowMs();
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->cached && now - impl_->cached_at < impl_->o.cache_for.count()) return *impl_->cached;
  }
  const auto started = std::chrono::steady_clock::now();
  CapacityReport r = impl_->Compute(now);
  r.compute_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::lock_guard lock(impl_->mu);
  impl_->cached = r;
  impl_->cached_at = now;
  return r;
}

http::Route NewCapacityRoute(std::shared_ptr<const CapacityReporter> reporter) {
  return {"/api/v1/capacity", [reporter](const http::Request& r) -> http::Response {
            if (r.path != "/api/v1/capacity") return api::ErrorResponse(404, "not_found", "not found");
            if (r.method != "GET") return api::ErrorResponse(405, "bad_data", "/api/v1/capacity answers GET only");
            return api::JsonResponse(200, ToResponseJson(reporter->Build()));
          }};
}

namespace {
class CapacityCollector : public collect::Collector {
 public:
  explicit CapacityCollector(std::shared_ptr<const CapacityReporter> r) : reporter_(std::move(r)) {}
  std::string_view name() const override { return "capacity"; }
  Status Collect(const collect::CollectContext&, MetricBatch& out) override {
    AppendMetrics(reporter_->Build(), out);
    return Status::Ok();
  }

 private:
  std::shared_ptr<const CapacityReporter> reporter_;
};
}  // namespace

std::shared_ptr<collect::Collector> NewCapacityCollector(std::shared_ptr<const CapacityReporter> reporter) {
  return std::make_shared<CapacityCollector>(std::move(reporter));
}

}  // namespace vigil::incidents

#include "notify/ingest.h"

#include <nlohmann/json.hpp>

#include "alert/alert.h"

namespace vigil::notify {
namespace {

using nlohmann::json;

// A label set as posted; `field` is "labels" or "annotations". Empty values
// are dropped, as Alertmanager does (an empty label is an absent one).
Status ParseLabelSet(const json& j, const std::string& field, Labels& out) {
  if (!j.is_object()) return Status::Error(field + ": must be an object of name: value strings");
  std::vector<Label> list;
  for (const auto& [name, value] : j.items()) {
    if (!IsValidLabelName(name)) return Status::Error(field + ": invalid name \"" + name + "\"");
    if (!value.is_string()) return Status::Error(field + "." + name + ": the value must be a string");
    std::string v = value.get<std::string>();
    if (!v.empty()) list.push_back({name, std::move(v)});
  }
  out = Labels::FromUnsorted(std::move(list));
  return Status::Ok();
}

// An RFC 3339 time; absent, null, "" and Go's zero time all mean unset (0).
Status ParseOptionalTime(const json& a, const char* field, TimestampMs& out) {
  out = 0;
  if (!a.contains(field) || a[field].is_null()) return Status::Ok();
  if (!a[field].is_string()) return Status::Error(std::string(field) + ": must be an RFC 3339 time string");
  std::string text = a[field].get<std::string>();
  if (text.empty() || text.rfind("0001-01-01T00:00:00", 0) == 0) return Status::Ok();
  Result<TimestampMs> t = ParseTime(text);
  if (!t.ok()) return Status::Error(std::string(field) + ": " + t.status().message());
  out = *t;
  return Status::Ok();
}

struct Parsed {
  AlertUpdate alert;
  bool timeout = false;
};

// One postableAlert, with Alertmanager's defaults and validation.
Result<Parsed> ParseAlert(const json& a, TimestampMs now, Duration resolve_timeout) {
  if (!a.is_object()) return Status::Error("must be an object");
  Parsed p;
  if (!a.contains("labels") || a["labels"].is_null()) return Status::Error("labels: required");
  if (Status s = ParseLabelSet(a["labels"], "labels", p.alert.labels); !s.ok()) return s;
  if (p.alert.labels.empty()) return Status::Error("labels: at least one label pair with a value is required");
  if (a.contains("annotations") && !a["annotations"].is_null()) {
    if (Status s = ParseLabelSet(a["annotations"], "annotations", p.alert.annotations); !s.ok()) return s;
  }
  if (Status s = ParseOptionalTime(a, "startsAt", p.alert.starts_at); !s.ok()) return s;
  if (Status s = ParseOptionalTime(a, "endsAt", p.alert.ends_at); !s.ok()) return s;
  if (a.contains("generatorURL") && !a["generatorURL"].is_null()) {
    if (!a["generatorURL"].is_string()) return Status::Error("generatorURL: must be a string");
    p.alert.generator_url = a["generatorURL"].get<std::string>();
  }
  if (p.alert.starts_at != 0 && p.alert.ends_at != 0 && p.alert.ends_at < p.alert.starts_at) {
    return Status::Error("endsAt " + FormatTime(p.alert.ends_at) + " is before startsAt " +
                         FormatTime(p.alert.starts_at));
  }
  // Alertmanager's defaults: a missing start is now (or the end, for an
  // alert posted already resolved); a missing end is a timeout.
  if (p.alert.starts_at == 0) p.alert.starts_at = p.alert.ends_at != 0 ? p.alert.ends_at : now;
  if (p.alert.ends_at == 0) {
    p.alert.ends_at = now + resolve_timeout.count();
    p.timeout = true;
  }
  return p;
}

}  // namespace

AlertIngest::AlertIngest(Sink sink, const Clock* clock, Duration resolve_timeout)
    : sink_(std::move(sink)), clock_(clock), resolve_timeout_(resolve_timeout) {}

AlertIngest::~AlertIngest() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status AlertIngest::Post(const std::string& body) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::parse_error& e) {
    // The position only: the body is the sender's, never repeated back.
    return Status::Error("malformed JSON at byte " + std::to_string(e.byte) + ": expected an array of alerts");
  } catch (const json::exception&) {
    // nlohmann reports a number too large for a double this way (found by alert_api_fuzz).
    return Status::Error("malformed JSON: a number is out of range");
  }
  if (!j.is_array()) return Status::Error("the body must be a JSON array of alerts");
  TimestampMs now = clock_->NowMs();
  std::string errors;
  size_t bad = 0;
  constexpr size_t kErrorsListed = 10;  // a body of a million bad alerts gets a short answer
  std::vector<AlertUpdate> out;
  out.reserve(j.size());
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < j.size(); ++i) {
    Result<Parsed> p = ParseAlert(j[i], now, resolve_timeout_);
    if (!p.ok()) {
      if (++bad <= kErrorsListed) {
        errors += (errors.empty() ? "" : "; ") + ("alerts[" + std::to_string(i) + "]: ") + p.status().message();
      }
      continue;
    }
    AlertUpdate& a = p->alert;
    std::string fp = alert::Fingerprint(a.labels);
    auto it = held_.find(fp);
    if (it != held_.end()) {
      // Alertmanager's merge: the earliest start; an explicit end that lies
      // later is kept over a re-post's timeout or earlier end while firing.
      const Held& old = it->second;
      a.starts_at = std::min(a.starts_at, old.alert.starts_at);
      if (a.ends_at > now && old.alert.ends_at > a.ends_at && !old.timeout) {
        a.ends_at = old.alert.ends_at;
        p->timeout = false;
      }
    }
    if (a.ends_at > now) {
      AlertUpdate firing = a;
      firing.ends_at = 0;  // the dispatcher's "firing"; the expiry stays here
      held_[fp] = {std::move(a), p->timeout, now};
      out.push_back(std::move(firing));
    } else if (it != held_.end()) {
      held_.erase(it);
      out.push_back(std::move(a));
    }
    // A resolved alert that never fired here has nothing to resolve.
  }
  // Under the lock, so a post and an expiry reach the dispatcher in order.
  if (!out.empty()) sink_(std::move(out));
  if (bad > kErrorsListed) errors += "; and " + std::to_string(bad - kErrorsListed) + " more invalid alerts";
  if (!errors.empty()) return Status::Error(errors);
  return Status::Ok();
}

size_t AlertIngest::ExpireDue() {
  TimestampMs now = clock_->NowMs();
  std::vector<AlertUpdate> out;
  std::lock_guard lock(mu_);
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->second.alert.ends_at > now) {
      ++it;
      continue;
    }
    out.push_back(std::move(it->second.alert));  // resolved at its endsAt
    it = held_.erase(it);
  }
  size_t n = out.size();
  if (n > 0) sink_(std::move(out));
  return n;
}

void AlertIngest::StartExpiryThread() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      // A second's precision is plenty against a 5-minute timeout.
      cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      ExpireDue();
      lock.lock();
    }
  });
}

size_t AlertIngest::active() const {
  std::lock_guard lock(mu_);
  return held_.size();
}

std::map<std::string, AlertIngest::Posted> AlertIngest::Snapshot() const {
  std::lock_guard lock(mu_);
  std::map<std::string, Posted> out;
  for (const auto& [fp, h] : held_) out[fp] = {h.alert.ends_at, h.updated_at};
  return out;
}

}  // namespace vigil::notify

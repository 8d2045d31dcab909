#include "alert/route.h"

#include <algorithm>

namespace vigil::alert {

Result<std::unique_ptr<Route>> Route::Build(const RouteSpec& root) {
  if (root.receiver.empty()) return Status::Error("route: the root route needs a receiver");
  if (!root.matchers.empty()) return Status::Error("route: the root route must not have matchers (it matches all)");
  return BuildChild(root, nullptr, "route", 0);
}

Result<std::unique_ptr<Route>> Route::BuildChild(const RouteSpec& spec, const Route* parent, const std::string& path,
                                                size_t index) {
  std::unique_ptr<Route> r(new Route());
  if (parent) {
    r->receiver_ = parent->receiver_;
    r->group_by_ = parent->group_by_;
    r->group_by_all_ = parent->group_by_all_;
    r->group_wait_ = parent->group_wait_;
    r->group_interval_ = parent->group_interval_;
    r->repeat_interval_ = parent->repeat_interval_;
  }
  if (!spec.receiver.empty()) r->receiver_ = spec.receiver;
  std::string matcher_text;
  for (size_t i = 0; i < spec.matchers.size(); ++i) {
    Result<Matchers> m = ParseMatchers(spec.matchers[i]);
    if (!m.ok()) return Status::Error(path + ".matchers[" + std::to_string(i) + "]: " + m.status().message());
    for (auto& one : *m) {
      matcher_text += (matcher_text.empty() ? "" : ",") + one.ToString();
      r->matchers_.push_back(std::move(one));
    }
  }
  if (spec.group_by) {
    r->group_by_.clear();
    r->group_by_all_ = false;
    for (const auto& name : *spec.group_by) {
      if (name == "...") {
        r->group_by_all_ = true;
      } else if (!IsValidLabelName(name)) {
        return Status::Error(path + ".group_by: \"" + name + "\" is not a label name");
      } else {
        r->group_by_.push_back(name);
      }
    }
    if (r->group_by_all_ && !r->group_by_.empty()) {
      return Status::Error(path + ".group_by: \"...\" groups by all labels and cannot be combined with names");
    }
    std::sort(r->group_by_.begin(), r->group_by_.end());
  }
  if (spec.group_wait) r->group_wait_ = *spec.group_wait;
  if (spec.group_interval) r->group_interval_ = *spec.group_interval;
  if (spec.repeat_interval) r->repeat_interval_ = *spec.repeat_interval;
  if (r->group_interval_.count() <= 0) return Status::Error(path + ".group_interval: must be positive");
  if (r->repeat_interval_.count() <= 0) return Status::Error(path + ".repeat_interval: must be positive");
  r->continue_ = spec.continue_matching;
  // Alertmanager's key: the parent's key / {matchers}, plus the index among
  // siblings so two routes with equal matchers keep separate groups.
  r->key_ = (parent ? parent->key_ + "/" : "") + "{" + matcher_text + "}" + (parent ? "/" + std::to_string(index) : "");
  for (size_t i = 0; i < spec.routes.size(); ++i) {
    Result<std::unique_ptr<Route>> child =
        BuildChild(spec.routes[i], r.get(), path + ".routes[" + std::to_string(i) + "]", i);
    if (!child.ok()) return child.status();
    r->routes_.push_back(std::move(*child));
  }
  return r;
}

std::vector<const Route*> Route::Match(const Labels& labels) const {
  if (!MatchesAll(matchers_, labels)) return {};
  std::vector<const Route*> out;
  for (const auto& child : routes_) {
    std::vector<const Route*> m = child->Match(labels);
    out.insert(out.end(), m.begin(), m.end());
    if (!m.empty() && !child->continue_) break;
  }
  if (out.empty()) out.push_back(this);
  return out;
}

Labels Route::GroupLabels(const Labels& labels) const {
  if (group_by_all_) return labels;
  Labels out;
  for (const auto& name : group_by_) {
    std::string_view v = labels.Get(name);
    if (!v.empty()) out.Set(name, v);
  }
  return out;
}

}  // namespace vigil::alert

// Alertmanager's routing tree: which receivers an alert goes to and how it is
// grouped. Same semantics as Alertmanager's, so users' routes carry over:
// children are tried in order, the first match wins unless it says
// `continue`, a route no child matched handles the alert itself, and unset
// settings are inherited from the parent.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "alert/alert.h"
#include "base/labels.h"
#include "base/time.h"

namespace vigil::alert {

// One route as configured; unset optionals inherit from the parent.
struct RouteSpec {
  std::string receiver;  // required on the root
  std::vector<std::string> matchers;  // Alertmanager matcher strings, ANDed
  std::optional<std::vector<std::string>> group_by;  // "..." groups by all labels
  std::optional<Duration> group_wait, group_interval, repeat_interval;
  bool continue_matching = false;
  std::vector<RouteSpec> routes;
};

// Alertmanager's defaults for the root route.
inline constexpr Duration kDefaultGroupWait{30000};
inline constexpr Duration kDefaultGroupInterval{300000};
inline constexpr Duration kDefaultRepeatInterval{4 * 3600 * 1000};

class Route {
 public:
  // Builds the tree; every problem (bad matcher, missing receiver on the
  // root, matchers on the root) is an error naming the route's path
  // ("route.routes[1].matchers[0]").
  static Result<std::unique_ptr<Route>> Build(const RouteSpec& root);

  // The routes that handle `labels`, in order; never empty for the root.
  std::vector<const Route*> Match(const Labels& labels) const;

  // The labels the alert is grouped by on this route.
  Labels GroupLabels(const Labels& labels) const;
  // Identifies this route in group keys (its path of matchers), like Alertmanager's route key.
  const std::string& key() const { return key_; }
  const std::string& receiver() const { return receiver_; }
  Duration group_wait() const { return group_wait_; }
  Duration group_interval() const { return group_interval_; }
  Duration repeat_interval() const { return repeat_interval_; }
  const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }

 private:
  Route() = default;
  static Result<std::unique_ptr<Route>> BuildChild(const RouteSpec& spec, const Route* parent, const std::string& path,
                                                  size_t index);

  std::string receiver_;
  Matchers matchers_;
  std::vector<std::string> group_by_;
  bool group_by_all_ = false;
  Duration group_wait_ = kDefaultGroupWait;
  Duration group_interval_ = kDefaultGroupInterval;
  Duration repeat_interval_ = kDefaultRepeatInterval;
  bool continue_ = false;
  std::string key_;
  std::vector<std::unique_ptr<Route>> routes_;
};

}  // namespace vigil::alert

// `vigil query` and `vigil query-range`: PromQL against a running vigil's
// HTTP API, printed as a table or as the API's JSON data.
#pragma once

#include <string>

namespace vigil::cli {

struct QueryTarget {
  std::string server = "http://127.0.0.1:9810";
  bool json = false;    // print the API's `data` as JSON instead of a table
  std::string timeout;  // the API's `timeout` parameter; empty: the server's
};

// `time` may be empty (the server's now). Returns the exit code.
int QueryInstant(const QueryTarget& target, const std::string& expr, const std::string& time);
int QueryRange(const QueryTarget& target, const std::string& expr, const std::string& start, const std::string& end,
               const std::string& step);

}  // namespace vigil::cli

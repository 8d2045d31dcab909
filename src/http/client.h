// A small HTTP client for vigil's own commands (`vigil query`) talking to a
// running vigil. The HTTP library stays behind this header.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace vigil::http {

struct ClientResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

// POSTs `params` form-encoded to base_url + path, e.g. ("http://127.0.0.1:9810",
// "/api/v1/query"). Any HTTP status is a response; only transport failures are
// errors, and they name the address: "cannot reach http://127.0.0.1:9810: connection refused".
Result<ClientResponse> PostForm(const std::string& base_url, const std::string& path,
                                const std::vector<std::pair<std::string, std::string>>& params, Duration timeout);
// GETs base_url + path (with any query string), with PostForm's errors.
Result<ClientResponse> Get(const std::string& base_url, const std::string& path, Duration timeout);
// POSTs a JSON body; DELETEs a path.
Result<ClientResponse> PostJson(const std::string& base_url, const std::string& path, const std::string& json,
                                Duration timeout);
Result<ClientResponse> Delete(const std::string& base_url, const std::string& path, Duration timeout);

}  // namespace vigil::http

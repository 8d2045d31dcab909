// Fuzzes the JSON-RPC response handling of the probes (probe/jsonrpc.h): the
// response parser, JSON-pointer lookup and value conversion, and URL parsing.
// Nothing may throw or crash, and the parser's contract must hold.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/outbound.h"
#include "probe/jsonrpc.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vigil::probe;
  std::string_view body(reinterpret_cast<const char*>(data), size);
  RpcReply reply;
  std::optional<Failure> f = ParseRpcResponse(body, &reply);
  if (f) {
    Check(f->reason == "bad_json" || f->reason == "bad_response");
  } else if (reply.has_error) {
    Check(reply.result.is_null());
    Check(reply.error_message.size() <= 200);
  } else {
    // What the modules do with a result: fixed pointers, and the input itself as a pointer.
    for (const char* p : {"", "/blocks", "/0", "/block_tip/height", "/a/~1b/-", "/~0"}) {
      if (const nlohmann::json* v = FindPointer(reply.result, p)) (void)JsonToGauge(*v);
    }
    if (size < 128) {
      std::string pointer(body);
      if (ValidPointer(pointer)) {
        if (const nlohmann::json* v = FindPointer(reply.result, pointer)) (void)JsonToGauge(*v);
      } else {
        Check(FindPointer(reply.result, pointer) == nullptr);
      }
    }
  }
  if (size < 512) {
    if (auto u = ParseUrl(std::string(body))) {
      Check(u->port > 0 && u->port <= 65535);
      Check(!u->host.empty());
      // The redacted form is scheme://host:port/path: no query, fragment or userinfo.
      Check(u->redacted.rfind(u->scheme + "://", 0) == 0);
      Check(u->redacted.find_first_of("?#") == std::string::npos);
    }
  }
  return 0;
}

// Probes of services from the outside (HTTP(S), TCP, JSON-RPC, TLS
// certificates) and the built-in modules for the validator stack (bitcoind,
// titan, the Arch validator). Each is a collect::Collector; the option structs
// below are what the configuration fills in.
//
// Every collector bounds its I/O by its own timeout and by the scheduler's
// deadline, reports failures as batch errors with a target (a URL without
// credentials, host:port or a path) and a short stable reason, and never puts
// secrets (passwords, cookie contents, Authorization headers) into metrics,
// errors or logs. Like the rest of the agent they expect SIGPIPE to be ignored
// (a peer closing mid-write would otherwise end the process).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "collect/collector.h"

namespace vigil::probe {

// Credentials for HTTP basic auth. With `cookie_file` set (bitcoind's
// `<datadir>/.cookie`, content `__cookie__:<password>`), the file wins over
// user/password and is read again whenever the server answers 401.
struct BasicAuth {
  std::string user;
  std::string password;
  std::string cookie_file;
  bool empty() const { return user.empty() && password.empty() && cookie_file.empty(); }
};

// What every probe shares. `service` and `name` become the `service` and
// `probe` labels; `collector_name` (default "probe/<service>/<name>") is the
// `collector` label of the scheduler's own metrics and must be unique.
struct ProbeCommon {
  std::string service;
  std::string name;
  std::string collector_name;
  Duration timeout{5000};
};

struct HttpProbeOptions {
  ProbeCommon common;
  std::string url;             // http:// or https://
  std::string method = "GET";  // GET, HEAD or POST
  std::string body;            // sent with POST
  std::vector<std::pair<std::string, std::string>> headers;
  BasicAuth auth;
  bool tls_verify = true;                  // false: accept any server certificate
  std::vector<int> expected_status;        // empty: any 2xx
  std::string body_regex;                  // RE2, unanchored; empty: not checked
  std::string json_pointer;                // RFC 6901; empty: not checked
  std::optional<std::string> json_equals;  // JSON text the pointed-to value must equal
};

struct TcpProbeOptions {
  ProbeCommon common;
  std::string target;  // host:port, [v6]:port
};

// A value taken from a JSON-RPC result into vigil_probe_value{name=...}.
// Numbers as they are, booleans as 0/1, numeric strings parsed, arrays and
// objects as their element count.
struct JsonExtract {
  std::string name;     // label value, e.g. "ready"
  std::string pointer;  // RFC 6901 into `result`, e.g. "" or "/blocks"
};

struct JsonRpcProbeOptions {
  ProbeCommon common;
  std::string url;
  std::string version = "2.0";  // "1.0" (bitcoind) or "2.0"
  std::string method;
  std::string params_json = "[]";  // a JSON array or object
  BasicAuth auth;
  bool tls_verify = true;
  std::vector<JsonExtract> extract;
};

// Certificate expiry of a remote endpoint (`target` host:port, SNI from host;
// or the host and port of an https `url`) or of a PEM file on disk (`file`);
// exactly one of them is set.
struct TlsProbeOptions {
  ProbeCommon common;
  std::string target;
  std::string url;
  std::string server_name;  // SNI and name to verify; default: the host of `target`
  std::string file;
};

Result<std::unique_ptr<collect::Collector>> NewHttpProbe(HttpProbeOptions options);
Result<std::unique_ptr<collect::Collector>> NewTcpProbe(TcpProbeOptions options);
Result<std::unique_ptr<collect::Collector>> NewJsonRpcProbe(JsonRpcProbeOptions options);
Result<std::unique_ptr<collect::Collector>> NewTlsProbe(TlsProbeOptions options);

// The latest block heights the modules have seen, by source ("bitcoind/<service>",
// "titan/<service>"). Injected into the modules that publish or compare
// heights; one per agent, shared between collector threads.
class ChainHeights {
 public:
  struct Height {
    int64_t height = 0;
    TimestampMs time_ms = 0;  // when it was read
  };
  void Set(const std::string& source, int64_t height, TimestampMs time_ms);
  std::optional<Height> Get(const std::string& source) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, Height> heights_;
};

// The source key under which the bitcoind module of `service` publishes its blocks.
std::string BitcoindHeightSource(const std::string& service);

struct BitcoindOptions {
  std::string service = "bitcoind";
  std::string collector_name;  // default "bitcoind/<service>"
  std::string url = "http://127.0.0.1:8332/";
  BasicAuth auth;                         // cookie_file or user/password
  Duration timeout{5000};                 // for the whole collection (four calls)
  std::shared_ptr<ChainHeights> heights;  // may be null
};

struct TitanOptions {
  std::string service = "titan";
  std::string collector_name;  // default "titan/<service>"
  std::string url = "http://127.0.0.1:3030";
  Duration timeout{5000};
  std::shared_ptr<ChainHeights> heights;  // may be null
  // The bitcoind service whose blocks give vigil_titan_height_lag_blocks;
  // empty: no lag. A height older than `max_height_age` is not compared.
  std::string bitcoind_service;
  Duration max_height_age{300000};
};

struct ValidatorOptions {
  std::string service = "validator";
  std::string collector_name;  // default "validator/<service>"
  std::string url = "http://127.0.0.1:9002/";
  std::vector<std::string> references;  // JSON-RPC 2.0 endpoints to compare heights with
  Duration timeout{5000};
  bool tls_verify = true;
};

// Binary update availability: the installed version (from `binary
// version_args…`, run without a shell under the timeout, or from
// `version_file`) against the latest release at `releases_url` (GitHub's
// releases/latest object, or a releases list whose first non-draft,
// non-prerelease entry counts).
struct UpdateCheckOptions {
  std::string service;
  std::string collector_name;  // default "updates/<service>"
  std::string binary;          // absolute path; exactly one of binary and version_file
  std::vector<std::string> version_args{"--version"};
  std::string version_file;
  std::string releases_url;
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. an API token; never logged
  Duration timeout{10000};
  bool tls_verify = true;
};
// How often to check when the configuration does not say: releases are rare
// and GitHub rate-limits anonymous API calls.
inline constexpr Duration kDefaultUpdateCheckInterval{6 * 3600 * 1000};

// Compares dotted versions ("v1.10.0" > "1.9.2"; "1.2.0-rc1" < "1.2.0");
// negative, zero or positive.
int CompareVersions(const std::string& a, const std::string& b);
// The first version-looking token of `text` ("validator 1.2.3 (abc)" -> "1.2.3"), or "".
std::string ExtractVersion(const std::string& text);

Result<std::unique_ptr<collect::Collector>> NewUpdateChecker(UpdateCheckOptions options);

// Scrapes another Prometheus endpoint (a service's /metrics) like Prometheus
// does: every sample gets job and instance (host:port of the URL); a scraped
// job or instance label is kept as exported_job/exported_instance unless
// `honor_labels`, where the scraped value wins. Adds up, scrape_duration_seconds
// and scrape_samples_scraped per target. A body with an error keeps nothing.
struct ScrapeOptions {
  std::string job;
  std::string collector_name;  // default "scrape/<job>"
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // never logged
  BasicAuth auth;
  bool tls_verify = true;
  bool honor_labels = false;
  size_t sample_limit = 0;  // 0: none; more samples fail the scrape (Prometheus's sample_limit)
  Duration timeout{10000};
};
Result<std::unique_ptr<collect::Collector>> NewScrapeCollector(ScrapeOptions options);

Result<std::unique_ptr<collect::Collector>> NewBitcoindCollector(BitcoindOptions options);
Result<std::unique_ptr<collect::Collector>> NewTitanCollector(TitanOptions options);
Result<std::unique_ptr<collect::Collector>> NewValidatorCollector(ValidatorOptions options);

}  // namespace vigil::probe

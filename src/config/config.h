// vigil.yml: loading, ${VAR} expansion, env files and strict validation.
// Every problem is reported as file:line:col with the field and the reason;
// loading never stops at the first problem.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "alert/dispatch.h"
#include "alert/inhibit.h"
#include "alert/mute.h"
#include "alert/route.h"
#include "base/severity.h"
#include "base/time.h"
#include "relabel/relabel.h"

namespace vigil::config {

// node_exporter's defaults, so filesystem series match it out of the box.
inline constexpr std::string_view kDefaultExcludeMountpoints =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
inline constexpr std::string_view kDefaultExcludeFsTypes =
    "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|"
    "nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";
inline constexpr std::string_view kDefaultExcludeDisks = "^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\\d+n\\d+p)\\d+$";

struct GlobalOptions {
  std::string listen = "127.0.0.1:9810";
  std::string data_dir = "./data";
  Duration scrape_interval{15000};
  Duration evaluation_interval{15000};                 // rule groups without their own interval
  std::map<std::string, std::string> external_labels;  // $externalLabels in templates; added to alerts sent out
  std::string log_level = "info";
  // The target labels stored series carry, as a Prometheus scraping vigil
  // would add them: `instance` (empty: the host name) and the job of vigil's
  // own metrics (host metrics use host.job, scrapes their own job).
  std::string instance;
  std::string job = "vigil";
};

struct HostOptions {
  bool enabled = true;
  std::string job = "node";  // the job of host, systemd and textfile series, as node_exporter's
  Duration interval{15000};
  Duration timeout{10000};
  std::string exclude_mountpoints{kDefaultExcludeMountpoints};
  std::string exclude_fstypes{kDefaultExcludeFsTypes};
  std::string exclude_disks{kDefaultExcludeDisks};
  std::string exclude_network_devices;  // empty: keep every device, as node_exporter
};

struct StorageOptions {
  Duration retention{30LL * 24 * 3600 * 1000};
  uint64_t max_bytes = 0;  // 0: no size cap
  Duration wal_fsync{1000};
  Duration block_range{2LL * 3600 * 1000};
};

struct TextfileOptions {
  std::string directory;  // empty: the textfile collector is off
};

enum class BusKind { kSystem, kUser };

struct SystemdOptions {
  BusKind bus = BusKind::kSystem;
};

// Credentials of an HTTP or JSON-RPC endpoint. Secrets are read from
// password_file at load time so they never need to sit in the config file.
struct EndpointAuth {
  std::string user;
  std::string password;
  std::string password_file;  // as configured; `password` holds its content
  std::string cookie_file;    // bitcoind's `<datadir>/.cookie` (`__cookie__:<secret>`), re-read on auth failure
  friend bool operator==(const EndpointAuth&, const EndpointAuth&) = default;
};

// One health check of a service (http, tcp, jsonrpc or tls).
struct ProbeOptions {
  std::string name;
  std::string type;                            // "http", "tcp", "jsonrpc" or "tls"
  std::string url;                             // http, jsonrpc, and tls of a URL's host
  std::string target;                          // tcp and tls: HOST:PORT
  std::string file;                            // tls: a PEM certificate file on disk instead of an endpoint
  std::string method;                          // jsonrpc
  std::string params_json = "[]";              // jsonrpc params, already rendered as JSON
  std::map<std::string, std::string> extract;  // gauge name -> JSON pointer into the result ("" is all of it)
  std::vector<std::pair<std::string, std::string>> headers;
  EndpointAuth auth;
  bool tls_insecure_skip_verify = false;
  std::string body_regex;                  // http: RE2, unanchored
  std::string json_pointer;                // http: RFC 6901 into the JSON body; the value must exist
  std::optional<std::string> json_equals;  // http: JSON text the pointed-to value must equal
  std::string jsonrpc_version = "2.0";     // jsonrpc: "2.0", or "1.0" as bitcoind speaks
  std::vector<int> expected_status;        // http: empty means any 2xx
  Duration interval{15000};
  Duration timeout{10000};
};

struct BitcoindOptions {
  std::string url;
  EndpointAuth auth;
  Duration interval{15000};
  Duration timeout{10000};
};

struct TitanOptions {
  std::string url;
  Duration interval{15000};
  Duration timeout{10000};
};

struct ValidatorOptions {
  std::string url;
  std::vector<std::string> references;  // other nodes' RPC URLs to compare heights with; empty entries dropped
  Duration interval{15000};
  Duration timeout{10000};
};

struct LogCounterRule {
  std::string name;
  std::string match;  // RE2, unanchored
};
struct LogGaugeRule {
  std::string name;
  std::string match;  // RE2 with exactly one capture group holding a number
};
struct LogStateRule {
  std::string name;
  std::string on;   // RE2 setting the state to 1
  std::string off;  // RE2 setting it to 0
};
struct LogOptions {
  std::string path;          // a plain file to follow; exactly one of path and journal_unit
  std::string journal_unit;  // or a unit whose journal to follow
  std::vector<LogCounterRule> counters;
  std::vector<LogGaugeRule> gauges;
  std::vector<LogStateRule> states;
  Duration interval{15000};  // how often new lines are read; default global.scrape_interval
  Duration timeout{10000};
};

struct UpdatesOptions {
  std::string binary;        // run as `binary --version` (no shell) unless version_file is set
  std::string version_file;  // read the installed version from this file instead
  std::string releases;      // URL answering a GitHub-releases-shaped JSON (`tag_name`)
  Duration interval{6LL * 3600 * 1000};
  Duration timeout{10000};
};

struct ProcessesOptions {
  std::optional<int> expect;  // how many processes should run; exposed as vigil_service_processes_expected
  // RE2 (unanchored) over the command line (arguments joined by spaces) or
  // the comm name; empty: processes named like the unit's main process.
  std::string match;
};

// Automatic restarts of a service's unit (services.<name>.recovery.restart).
struct RestartOptions {
  int max_attempts = 3;  // per window, counting systemd's own restarts
  Duration window{15LL * 60 * 1000};
  Duration backoff{2000};  // before the second attempt; doubles up to max_backoff
  Duration max_backoff{120000};
  Duration verify_timeout{60000};  // to become active and healthy after an attempt
  Duration stable_for{10000};      // then to stay so before the recovery counts as verified
  Duration unhealthy_for{30000};   // an active unit whose probes fail this long is restarted
};

// A dependency with standbys: the consumer's env file names the active endpoint.
struct FailoverOptions {
  std::string env_file;                // absolute; rewritten atomically
  std::string key;                     // the KEY=value line that names the endpoint
  std::vector<std::string> endpoints;  // index 0 is the primary; each http(s) URL is health-probed
  std::string probe_path = "/";        // appended to an endpoint for its health probe
  Duration probe_interval{5000};
  Duration probe_timeout{2000};
  int fail_after = 2;                    // consecutive failed probes before an endpoint counts as down
  Duration hold_down{10LL * 60 * 1000};  // the primary's healthy time before failing back
  // The service whose unit is restarted after a switch so it reads the new
  // value: `self` (written) means this service; empty: none.
  std::string restart_service;
};

// A command to run when a matching alert of the service fires.
struct ExecActionOptions {
  std::string name;
  std::vector<std::string> matchers;  // Alertmanager matchers on the alert; service="<name>" is implied
  std::vector<std::string> command;   // argv; command[0] absolute; no shell
  Duration timeout{30000};
  size_t max_output_bytes = 64 * 1024;
};

struct ServiceRecoveryOptions {
  std::optional<RestartOptions> restart;  // absent: vigil never restarts the unit
  // > 0: the service's critical alerts wait this long for the recovery; a
  // verified recovery inside it sends a P3 notice instead of the page.
  Duration hold_page_for{0};
  std::vector<FailoverOptions> failover;
  std::vector<ExecActionOptions> exec;
};

// An availability objective over a rolling window (docs/sla.md).
struct SloOptions {
  double objective = 0;  // in (0, 1): "99.9%" is 0.999
  Duration window{30LL * 24 * 3600 * 1000};
};

// Time when a service's downtime is planned: one-off (start, end) or
// recurring in alerting's weekly shape (weekdays, times, location).
struct ServiceMaintenanceWindow {
  std::string name;
  TimestampMs start_ms = 0;  // one-off: [start_ms, end_ms)
  TimestampMs end_ms = 0;
  std::optional<alert::MaintenanceWindowSpec> weekly;
};

// A directory of the service's data (the chain data), measured like `du`
// for the capacity forecast (docs/capacity.md).
struct DataDirOptions {
  std::string path;  // absolute
  Duration interval{5LL * 60 * 1000};
  Duration timeout{60 * 1000};
};

struct ServiceOptions {
  std::string name;
  std::string unit;  // a unit name or a glob (`arch-*@ops.service`); ".service" is added when no suffix is given
  std::vector<std::string> depends_on;
  std::optional<ProcessesOptions> processes;
  std::vector<ProbeOptions> probes;
  std::optional<BitcoindOptions> bitcoind;
  std::optional<TitanOptions> titan;
  std::optional<ValidatorOptions> validator;
  std::vector<LogOptions> logs;
  std::optional<UpdatesOptions> updates;
  std::optional<ServiceRecoveryOptions> recovery;
  std::optional<SloOptions> slo;
  std::vector<ServiceMaintenanceWindow> maintenance_windows;
  std::vector<DataDirOptions> data_dirs;
};

// Another Prometheus endpoint whose samples vigil stores (Prometheus's scrape_configs, one target each).
struct ScrapeTarget {
  std::string job;
  std::string url;
  EndpointAuth auth;
  bool tls_insecure_skip_verify = false;
  bool honor_labels = false;
  uint64_t sample_limit = 0;  // 0: no limit
  Duration interval{15000};
  Duration timeout{10000};
};

// Receivers in Alertmanager's shape: one name, one or more integrations.
struct WebhookConfig {
  std::string url;  // receives Alertmanager's version-4 JSON payload
  bool send_resolved = true;
  int max_alerts = 0;  // 0: all
};
struct PagerDutyConfig {
  std::string routing_key;  // Events API v2 integration key; a secret
  std::string url = "https://events.pagerduty.com/v2/enqueue";
  bool send_resolved = true;
  // Go templates over the notification (docs/alerting.md, "Templates"); empty: vigil's text.
  std::string description;                     // payload.summary
  std::map<std::string, std::string> details;  // added to custom_details, replacing a default of that name
};
struct SlackConfig {
  std::string api_url;  // the incoming-webhook URL; a secret
  std::string channel;
  bool send_resolved = true;
  std::string title;  // the message's top line
  std::string text;   // one attachment with this text instead of one per alert
};
struct TelegramConfig {
  std::string bot_token;  // a secret (it is part of the request's path)
  std::string chat_id;
  std::string api_url = "https://api.telegram.org";
  bool send_resolved = true;
  std::string message;  // the whole text (HTML parse mode: escape with `html`)
};
struct DiscordConfig {
  std::string webhook_url;  // a secret
  bool send_resolved = true;
  std::string title;    // the content line
  std::string message;  // one embed with this description instead of one per alert
};
// SMS through Twilio's Messages API; by default only P0/P1, firing only.
// `severities` lists priorities (P0..P3, through alerting.severities) or
// literal severity values.
struct TwilioConfig {
  std::string account_sid;
  std::string auth_token;  // a secret
  std::string from, to;    // E.164 numbers
  std::string api_url = "https://api.twilio.com";
  std::vector<std::string> severities{"P0", "P1"};
  bool send_resolved = false;
  std::string text;  // each SMS's body (per alert), cut to 160 characters
};
// Email over SMTP (STARTTLS unless require_tls is false), text and HTML.
struct EmailConfig {
  std::string to, from;
  std::string smarthost;                     // HOST:PORT
  std::string auth_username, auth_password;  // the password is a secret
  bool require_tls = true;
  bool tls_insecure_skip_verify = false;
  bool send_resolved = true;
  std::string subject, text, html;  // html is not escaped for you: use `html` on values
};
// A file of alerting.templates, as read when the config was loaded.
struct TemplateFile {
  std::string path;
  std::string text;
};
struct ReceiverOptions {
  std::string name;
  // alerting.templates (shared by every receiver): what its templates may
  // call with {{template "name" .}}. Null or empty: none.
  std::shared_ptr<const std::vector<TemplateFile>> template_files;
  std::vector<WebhookConfig> webhook_configs;
  std::vector<PagerDutyConfig> pagerduty_configs;
  std::vector<SlackConfig> slack_configs;
  std::vector<TelegramConfig> telegram_configs;
  std::vector<DiscordConfig> discord_configs;
  std::vector<TwilioConfig> twilio_configs;
  std::vector<EmailConfig> email_configs;
};

// An Alertmanager to forward every alert to, as Prometheus does (for fleets
// that centralise routing there).
struct AlertmanagerTarget {
  std::string url;  // base URL; alerts are POSTed to <url>/api/v2/alerts
  Duration resend_interval{60000};
};

struct AlertingOptions {
  std::vector<std::string> template_patterns;  // alerting.templates as written, resolved against the config's directory
  std::shared_ptr<const std::vector<TemplateFile>> template_files;  // the files they matched, in order
  std::vector<AlertmanagerTarget> alertmanagers;
  alert::RouteSpec route;
  std::vector<ReceiverOptions> receivers;
  std::vector<alert::InhibitRuleSpec> inhibit_rules;
  std::vector<alert::MaintenanceWindowSpec> maintenance_windows;
  alert::FlapOptions flap;
  // Severity label value -> priority; entries add to or replace the defaults.
  SeverityMap severities;
};

enum class RecoveryMode { kEnforce, kDryRun, kOff };

// Frees a filesystem that runs low by deleting (or compressing) old files
// under allowlisted roots (recovery.cleanup[]).
struct CleanupOptions {
  std::string filesystem;          // a mount point
  double below_free_ratio = 0.10;  // start when free space falls below this share
  double until_free_ratio = 0.15;  // stop once it is back at this share
  std::vector<std::string> roots;  // absolute directories, never /, never inside the data dir
  std::vector<std::string> match;  // globs on file names; empty: every file
  Duration older_than{0};
  int keep_newest = 0;         // per directory
  bool largest_first = false;  // default: oldest first
  bool compress = false;       // gzip instead of deleting
  bool delete_open_files = false;
  bool journal_vacuum = false;
  uint64_t journal_max_bytes = 0;  // journal_vacuum: --vacuum-size; 0: by age (older_than) only
  Duration interval{60000};        // how often free space is checked
};

// Host-wide recovery settings (the top-level `recovery` section).
struct RecoveryOptions {
  RecoveryMode mode = RecoveryMode::kEnforce;
  int max_concurrent = 1;  // actions under way at once on this host
  std::vector<CleanupOptions> cleanup;
};

// One remote_write target (Prometheus remote write 1.0), in the shape of
// Prometheus's remote_write section; its queue follows vigil's WAL.
struct RemoteWriteTarget {
  std::string name;  // unique; default: host:port of the url
  std::string url;   // may hold credentials: logs use the redacted form
  Duration remote_timeout{30000};
  std::map<std::string, std::string> headers;  // values may be secrets: never printed
  EndpointAuth basic_auth;                     // username + password | password_file
  std::string bearer_token;                    // authorization.credentials | credentials_file
  std::string tls_ca_file, tls_cert_file, tls_key_file;
  bool tls_insecure_skip_verify = false;
  // queue_config
  int min_shards = 1;
  int max_shards = 8;
  int max_samples_per_send = 2000;
  Duration batch_send_deadline{5000};
  Duration min_backoff{30};
  Duration max_backoff{5000};
  bool retry_on_http_429 = true;
  // How much WAL (bytes) this target may hold back while its receiver is
  // away; past it the oldest unsent segment is let go and its samples
  // counted as dropped (vigil_remote_storage_samples_dropped_total{reason="backlog"}).
  uint64_t max_backlog_bytes = 2ULL << 30;
  // Prometheus's write_relabel_configs: applied to each series after the
  // external labels are added; a dropped series is not sent.
  std::vector<relabel::Rule> write_relabel_configs;
  // Export resolution: 0 sends raw samples; otherwise one point per series
  // per step of this length (the store's downsampling: 5m as its own 5 m
  // series), once the WAL is `resolution_delay` past the step's end.
  Duration resolution{0};
  Duration resolution_delay{60000};
  // Which of the step's aggregates are sent: "last" under the series' own
  // labels; "min", "max", "sum", "count" with an `aggregate` label.
  std::vector<std::string> aggregates{"last"};
  friend bool operator==(const RemoteWriteTarget&, const RemoteWriteTarget&) = default;
};

// A learned baseline (docs/degradation.md): each series `expr` returns gets a
// time-of-day (or -week) band, recorded as vigil_baseline_* for rules.
struct BaselineOptions {
  std::string name;              // unique; the `baseline` label of the recorded series
  std::string expr;              // PromQL; may return several series
  std::string season = "daily";  // daily | weekly
  Duration history{28LL * 86400 * 1000};
  Duration bucket{3600 * 1000};  // divides a day
  double tolerance = 3;          // half-width of the band in robust sigmas (1.4826 x MAD)
  double min_width = 0;          // floor of the half-width, in the series' unit
  std::string direction = "up";  // up | down | both: which side is a degradation
  friend bool operator==(const BaselineOptions&, const BaselineOptions&) = default;
};

// reports.digest: the weekly digest (docs/reports.md), sent through the
// alerting routes as an alert named VigilWeeklyDigest with this severity.
struct DigestOptions {
  std::string schedule = "Mon 09:00";  // as written
  int weekday = 1;                     // parsed: 0 = Sunday
  int minute_of_day = 9 * 60;
  std::string timezone = "UTC";
  std::string severity = "P3";
};

struct ReportsOptions {
  std::optional<DigestOptions> digest;  // absent: no digest is sent on a schedule
};

struct Config {
  std::string source;  // the file it came from, or "<built-in>"
  std::vector<std::string> env_files;
  GlobalOptions global;
  HostOptions host;
  StorageOptions storage;
  std::optional<SystemdOptions> systemd;  // absent: the system bus when a service names a unit
  std::vector<ServiceOptions> services;   // in file order; names are unique
  TextfileOptions textfile;
  std::vector<ScrapeTarget> scrape;  // in file order; jobs are unique
  // Prometheus rule files: every file the configured paths and globs matched,
  // relative ones resolved against the config file's directory, sorted per
  // entry, without duplicates; `builtin:NAME` entries (embedded packs, see
  // rules/builtin_packs.h) are kept as written. `rule_file_patterns` keeps
  // what was written, so a reload picks up files added since.
  std::vector<std::string> rule_files;
  std::vector<std::string> rule_file_patterns;
  std::optional<AlertingOptions> alerting;  // absent: alerts are evaluated and shown, not sent
  RecoveryOptions recovery;
  std::vector<RemoteWriteTarget> remote_write;  // in file order; names are unique
  std::vector<BaselineOptions> baselines;       // in file order; names are unique
  ReportsOptions reports;
};

struct Problem {
  std::string file;
  int line = 0;    // 1-based; 0 when the problem has no position
  int column = 0;  // 1-based
  std::string message;
  // "file:line:col: message" (or "file: message" without a position).
  std::string ToString() const;
};

struct LoadResult {
  Config config;
  std::vector<Problem> problems;
  bool ok() const { return problems.empty(); }
};

// The web configuration file (`vigil run --web.config.file`), in the shape
// of the Prometheus exporter-toolkit's file so one file serves the toolchain.
struct WebTlsOptions {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
  // The exporter-toolkit's names: NoClientCert, RequestClientCert,
  // RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert.
  std::string client_auth_type = "NoClientCert";
  std::string min_version = "TLS12";  // TLS10 … TLS13
  std::string max_version = "TLS13";
};

struct WebConfig {
  std::string source;
  std::optional<WebTlsOptions> tls;                                   // tls_server_config
  std::vector<std::pair<std::string, std::string>> basic_auth_users;  // user, bcrypt hash; sorted by user
  std::vector<std::pair<std::string, std::string>> headers;           // http_server_config.headers
  // vigil's own key `read_access`: "authenticated" (the default when users
  // are set: every endpoint but /-/healthy and /-/ready asks) or "open"
  // (reads are open, state-changing requests still ask).
  bool protect_reads = true;
};

struct WebConfigResult {
  WebConfig config;
  std::vector<Problem> problems;
  bool ok() const { return problems.empty(); }
};

// Loads and validates a web configuration file; relative certificate paths
// are resolved against the file's directory, as the exporter-toolkit does.
WebConfigResult LoadWebConfigFile(const std::string& path);
WebConfigResult LoadWebConfigString(std::string_view yaml, const std::string& name);

// Looks an environment variable up; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
EnvLookup ProcessEnv();

// Loads and validates a config file. Env files named in it are read relative
// to the config file's directory. The process environment wins over env files.
LoadResult LoadFile(const std::string& path, const EnvLookup& env = ProcessEnv());
// Same, from text; `name` is used in problem positions.
LoadResult LoadString(std::string_view yaml, const std::string& name, const EnvLookup& env = ProcessEnv());
// The shipped default configuration (deploy/default.yml, embedded at build time).
std::string_view DefaultConfigYaml();
LoadResult LoadDefault(const EnvLookup& env = ProcessEnv());

}  // namespace vigil::config

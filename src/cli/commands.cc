#include "cli/commands.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <tuple>

#include "base/time.h"
#include "cli/agent.h"
#include "cli/alert_quality_command.h"
#include "cli/backup.h"
#include "cli/build_info.h"
#include "cli/capacity_commands.h"
#include "cli/incident_commands.h"
#include "cli/init_command.h"
#include "cli/notify_commands.h"
#include "cli/password_command.h"
#include "cli/query_commands.h"
#include "cli/recovery_commands.h"
#include "cli/report_commands.h"
#include "cli/rules_commands.h"
#include "cli/silence_commands.h"
#include "cli/sla_commands.h"
#include "cli/status_commands.h"
#include "cli/tsdb_commands.h"
#include "config/config.h"
#include "rules/rule_file.h"

namespace vigil::cli {
namespace {

// Like promtool check config: the rule files the configuration names are
// checked too, so one command says whether `vigil run` would start.
int CheckConfig(const std::vector<std::string>& files) {
  int rc = 0;
  for (const auto& file : files) {
    config::LoadResult r = config::LoadFile(file);
    if (!r.ok()) {
      rc = 1;
      for (const auto& p : r.problems) std::printf("%s\n", p.ToString().c_str());
      continue;
    }
    rules::ParseOptions options;
    if (r.config.alerting) options.severities = &r.config.alerting->severities;
    rules::LoadResult rules = rules::LoadRuleFiles(r.config.rule_files, options);
    if (!rules.ok()) {
      rc = 1;
      for (const auto& p : rules.problems) std::printf("%s\n", p.ToString().c_str());
      continue;
    }
    for (const auto& w : rules.warnings) std::printf("warning: %s\n", w.ToString().c_str());
    size_t count = 0;
    for (const auto& g : rules.groups) count += g.rules.size();
    std::printf("%s: valid (%zu rule files, %zu rules)\n", file.c_str(), r.config.rule_files.size(), count);
  }
  return rc;
}

// Like promtool check web-config.
int CheckWebConfig(const std::vector<std::string>& files) {
  int rc = 0;
  for (const auto& file : files) {
    config::WebConfigResult r = config::LoadWebConfigFile(file);
    for (const auto& p : r.problems) std::printf("%s\n", p.ToString().c_str());
    if (!r.ok()) {
      rc = 1;
      continue;
    }
    std::printf("%s: valid (%s, %zu users)\n", file.c_str(), r.config.tls ? "TLS" : "plain HTTP",
                r.config.basic_auth_users.size());
  }
  return rc;
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{"vigil watches a validator host: collects, stores, alerts and heals."};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");

  RunOptions run;
  std::string config_path, data_dir, listen;
  CLI::App* run_cmd = app.add_subcommand("run", "Run the agent in the foreground");
  run_cmd->add_option("--config", config_path, "Configuration file (default: the built-in configuration)");
  run_cmd->add_option("--data-dir", data_dir, "Data directory (overrides global.data_dir)");
  run_cmd->add_option("--listen", listen, "HTTP listen address HOST:PORT (overrides global.listen)");
  std::string web_config_file;
  run_cmd->add_option("--web.config.file", web_config_file,
                      "Web configuration (TLS, basic_auth_users; the exporter-toolkit's format), re-read on SIGHUP");
  run_cmd->add_flag("--web.insecure", run.web_insecure,
                    "Allow a listen address beyond loopback without authentication");
  std::string lookback_delta, query_timeout;
  int64_t max_samples = 0;
  run_cmd->add_option("--query.lookback-delta", lookback_delta,
                      "How far back PromQL looks for a sample of an instant vector (default 5m)");
  run_cmd
      ->add_option("--query.max-samples", max_samples,
                   "Samples one query may hold in memory; more fail with HTTP 422 (default 50000000)")
      ->check(CLI::PositiveNumber);
  run_cmd->add_option("--query.timeout", query_timeout,
                      "Longest a query may run; longer fail with HTTP 503 (default 2m)");

  QueryTarget query_target;
  std::string query_expr, query_time, range_start, range_end, range_step;
  CLI::App* query_cmd = app.add_subcommand("query", "Run an instant PromQL query against a running vigil");
  query_cmd->add_option("EXPR", query_expr, "PromQL expression")->required();
  query_cmd->add_option("--time", query_time, "Evaluation time (Unix seconds or RFC 3339; default: now)");
  CLI::App* range_cmd = app.add_subcommand("query-range", "Run a PromQL range query against a running vigil");
  range_cmd->add_option("EXPR", query_expr, "PromQL expression")->required();
  range_cmd->add_option("--start", range_start, "Start (Unix seconds or RFC 3339)")->required();
  range_cmd->add_option("--end", range_end, "End (Unix seconds or RFC 3339)")->required();
  range_cmd->add_option("--step", range_step, "Resolution: a duration (15s, 1m) or seconds")->required();
  for (CLI::App* cmd : {query_cmd, range_cmd}) {
    cmd->add_option("--server", query_target.server, "vigil's address")->capture_default_str();
    cmd->add_flag("--json", query_target.json, "Print the API's data as JSON instead of a table");
    cmd->add_option("--timeout", query_target.timeout, "Query timeout (default: the server's --query.timeout)");
  }

  CLI::App* check = app.add_subcommand("check", "Validate configuration and rule files");
  check->require_subcommand(1);
  std::vector<std::string> config_files;
  CLI::App* check_config =
      check->add_subcommand("config", "Validate configuration files; print file:line:col: problem");
  check_config->add_option("FILE", config_files, "Configuration file(s)")->required();
  std::vector<std::string> web_config_files;
  CLI::App* check_web_config = check->add_subcommand(
      "web-config", "Validate web configuration files (--web.config.file); print file:line:col: problem");
  check_web_config->add_option("FILE", web_config_files, "Web configuration file(s)")->required();
  std::vector<std::string> rule_files;
  CLI::App* check_rules =
      check->add_subcommand("rules", "Validate rule files (Prometheus format); print file:line:col: problem");
  check_rules->add_option("FILE", rule_files, "Rule file(s)")->required();
  std::string check_rules_config;
  check_rules->add_option("--config", check_rules_config,
                          "Configuration whose alerting.severities names the known severity values");

  CLI::App* test_cmd = app.add_subcommand("test", "Run unit tests");
  test_cmd->require_subcommand(1);
  std::vector<std::string> rule_test_files;
  CLI::App* test_rules = test_cmd->add_subcommand("rules", "Run rule unit tests written for `promtool test rules`");
  test_rules->add_option("FILE", rule_test_files, "Test file(s)")->required();

  CLI::App* alerts_cmd = app.add_subcommand("alerts", "List the pending and firing alerts of a running vigil");
  std::string alerts_server = "http://127.0.0.1:9810";
  bool alerts_json = false;
  alerts_cmd->add_option("--server", alerts_server, "vigil's address")->capture_default_str();
  alerts_cmd->add_flag("--json", alerts_json, "Print the API's data as JSON instead of a table");
  alerts_cmd->require_subcommand(0, 1);
  AlertQualityOptions quality;
  CLI::App* quality_cmd = alerts_cmd->add_subcommand(
      "quality", "Per rule: times fired, flaps, self-resolved (false-positive proxy), silenced, from state.db");
  quality_cmd->add_option("--data-dir", quality.data_dir, "Data directory (holds state.db)")->capture_default_str();
  auto* since_opt = quality_cmd->add_option("--since", quality.since, "How far back from --to (e.g. 30d, 12h)")
                        ->capture_default_str();
  quality_cmd->add_option("--from", quality.from, "Start (Unix seconds or RFC 3339)")->excludes(since_opt);
  quality_cmd->add_option("--to", quality.to, "End (Unix seconds or RFC 3339; default: now)");
  quality_cmd->add_flag("--json", quality.as_json, "Print JSON");

  CLI::App* silence_cmd = app.add_subcommand("silence", "Add, list and expire silences of a running vigil");
  silence_cmd->require_subcommand(1);
  SilenceAddOptions silence;
  silence.server = "http://127.0.0.1:9810";
  bool silence_expired = false, silence_json = false;
  std::string silence_id;
  CLI::App* silence_add = silence_cmd->add_subcommand("add", "Silence the alerts matching all MATCHERs");
  silence_add->add_option("MATCHER", silence.matchers, "Alertmanager matchers, e.g. service=\"bitcoind\"")->required();
  silence_add->add_option("--duration", silence.duration, "How long (e.g. 2h, 30m)")->capture_default_str();
  silence_add->add_option("--start", silence.start, "When it starts (Unix seconds or RFC 3339; default: now)");
  silence_add->add_option("--author", silence.author, "Who (default: $USER)");
  silence_add->add_option("--comment", silence.comment, "Why");
  CLI::App* silence_list = silence_cmd->add_subcommand("list", "List active and pending silences");
  silence_list->add_flag("--expired", silence_expired, "Also list expired ones");
  silence_list->add_flag("--json", silence_json, "Print JSON");
  CLI::App* silence_expire = silence_cmd->add_subcommand("expire", "End a silence now");
  silence_expire->add_option("ID", silence_id, "The silence's id")->required();
  for (CLI::App* sub : {silence_add, silence_list, silence_expire}) {
    sub->add_option("--server", silence.server, "vigil's address")->capture_default_str();
  }

  IncidentCommandOptions incidents_opts;
  CLI::App* incidents_cmd = app.add_subcommand(
      "incidents", "Incidents (alerts grouped by dependency) with their timeline, MTTD and MTTR, from state.db");
  incidents_cmd->require_subcommand(0, 1);
  CLI::App* incidents_list = incidents_cmd->add_subcommand("list", "The incidents in a range, newest first (default)");
  CLI::App* incidents_show =
      incidents_cmd->add_subcommand("show", "One incident's timeline, MTTD and MTTR; --format md: a post-mortem");
  incidents_show->add_option("ID", incidents_opts.id, "The incident's id")->required();
  incidents_show->add_option("--format", incidents_opts.format, "text (default), json or md");
  incidents_show->add_option("--server", incidents_opts.server,
                             "With --format md: the running vigil that answers the charts' data");
  for (CLI::App* sub : {incidents_cmd, incidents_list, incidents_show}) {
    sub->add_option("--config", incidents_opts.config_path, "Configuration file (default: the built-in one)");
    sub->add_option("--data-dir", incidents_opts.data_dir, "Data directory (overrides global.data_dir)");
    sub->add_flag("--json", incidents_opts.as_json, "Print JSON");
  }
  for (CLI::App* sub : {incidents_cmd, incidents_list}) {
    auto* since = sub->add_option("--since", incidents_opts.since, "How far back from --to (default 7d)");
    sub->add_option("--from", incidents_opts.from, "Start (Unix seconds or RFC 3339)")->excludes(since);
    sub->add_option("--to", incidents_opts.to, "End (Unix seconds or RFC 3339; default: now)");
  }

  SlaCommandOptions sla;
  CLI::App* sla_cmd =
      app.add_subcommand("sla", "Each service's availability, planned and unplanned downtime and SLO, from state.db");
  sla_cmd->add_option("--config", sla.config_path, "Configuration file (default: the built-in configuration)");
  sla_cmd->add_option("--data-dir", sla.data_dir, "Data directory (overrides global.data_dir)");
  sla_cmd->add_option("--service", sla.service, "Only this service");
  sla_cmd->add_option("--month", sla.month, "Also a calendar month, YYYY-MM (UTC)");
  sla_cmd->add_option("--from", sla.from, "Also a window from this time (Unix seconds or RFC 3339)");
  sla_cmd->add_option("--to", sla.to, "End of that window (default: now)");
  sla_cmd->add_flag("--json", sla.as_json, "Print the API's data as JSON");
  CLI::App* recovery_cmd = app.add_subcommand("recovery", "Show and control the automatic recovery of a running vigil");
  recovery_cmd->require_subcommand(1);
  std::string recovery_server = "http://127.0.0.1:9810", recovery_service, recovery_for;
  bool recovery_json = false;
  CLI::App* recovery_list =
      recovery_cmd->add_subcommand("list", "Each service's recovery phase and budget, and the recent audit");
  recovery_list->add_option("SERVICE", recovery_service, "Only this service");
  recovery_list->add_flag("--json", recovery_json, "Print the API's data as JSON");
  CLI::App* recovery_pause = recovery_cmd->add_subcommand("pause", "Stop acting (every service, or one) until resumed");
  recovery_pause->add_option("SERVICE", recovery_service, "Only this service (default: every service)");
  recovery_pause->add_option("--for", recovery_for, "Resume by itself after this long (e.g. 30m)");
  CLI::App* recovery_resume = recovery_cmd->add_subcommand("resume", "Act again after a pause");
  recovery_resume->add_option("SERVICE", recovery_service, "The service paused by name (default: the global pause)");
  CLI::App* recovery_reset =
      recovery_cmd->add_subcommand("reset", "Forget a service's attempts and escalation: its budget is full again");
  recovery_reset->add_option("SERVICE", recovery_service, "The service")->required();
  for (CLI::App* sub : {recovery_list, recovery_pause, recovery_resume, recovery_reset}) {
    sub->add_option("--server", recovery_server, "vigil's address")->capture_default_str();
  }

  DrillOptions drill;
  std::string drill_timeout = "120s";
  CLI::App* drill_cmd = app.add_subcommand(
      "drill", "Inject a fault into a managed service and measure detection, notification and verified recovery");
  drill_cmd
      ->add_option("FAULT", drill.fault,
                   "kill (SIGKILL), hang (SIGSTOP), stop (a clean stop: not restarted) or fill-disk")
      ->required();
  drill_cmd
      ->add_option("SERVICE", drill.service,
                   "A service with recovery.restart in vigil's configuration; for fill-disk, a directory under a "
                   "recovery.cleanup root")
      ->required();
  std::string drill_max = "1GiB";
  drill_cmd->add_option("--max-bytes", drill_max, "fill-disk: never write more than this")->capture_default_str();
  drill_cmd->add_flag("--yes", drill.yes, "Really inject the fault (without it, only say what would be done)");
  drill_cmd->add_option("--rounds", drill.rounds, "How many times; p50 and p99 are printed")->capture_default_str();
  drill_cmd->add_option("--timeout", drill_timeout, "Longest wait for one round")->capture_default_str();
  drill_cmd->add_flag("--user", drill.user_bus, "The unit runs under `systemd --user`");
  drill_cmd->add_flag("--json", drill.as_json, "Print JSON");
  drill_cmd->add_option("--server", drill.server, "vigil's address")->capture_default_str();

  CLI::App* notify_cmd = app.add_subcommand("notify", "Notification tools");
  notify_cmd->require_subcommand(1);
  std::string notify_receiver, notify_severity = "low", notify_config;
  CLI::App* notify_test =
      notify_cmd->add_subcommand("test", "Send a test message through a receiver's integrations now");
  notify_test->add_option("RECEIVER", notify_receiver, "The receiver's name in alerting.receivers")->required();
  notify_test->add_option("--config", notify_config, "Configuration file (default: the built-in one)");
  notify_test
      ->add_option("--severity", notify_severity,
                   "The test alert's severity (any value; alerting.severities gives its priority)")
      ->capture_default_str();

  // --url defaults to the default configuration's listen address, read only when needed.
  StatusCommandOptions status_opts;
  CLI::App* status_cmd = app.add_subcommand(
      "status", "The host's health from a running vigil; exit 0 healthy, 1 warning, 2 critical, 3 unreachable");
  status_cmd->add_option("--url,--server", status_opts.server, "vigil's address (default: http://<global.listen>)");
  status_cmd->add_flag("--json", status_opts.as_json, "Print the snapshot's data as JSON");
  std::string capacity_server;
  bool capacity_json = false;
  CLI::App* capacity_cmd = app.add_subcommand(
      "capacity", "Forecasts from a running vigil: when each disk and memory fills, in words; exit 1 within 7 days");
  capacity_cmd->add_option("--url,--server", capacity_server, "vigil's address (default: http://<global.listen>)");
  capacity_cmd->add_flag("--json", capacity_json, "Print the forecasts' data as JSON");
  ReportCommandOptions report_opts;
  CLI::App* report_cmd = app.add_subcommand(
      "report",
      "A running vigil's report: uptime, incidents, capacity, reminders, noisiest rules; or --send the digest");
  report_cmd->add_option("--url,--server", report_opts.server, "vigil's address (default: http://<global.listen>)");
  report_cmd->add_option("--since", report_opts.since, "The range ends now (or --to) and is this long (default 7d)");
  report_cmd->add_option("--from", report_opts.from, "Start of the range (Unix seconds or RFC 3339)");
  report_cmd->add_option("--to", report_opts.to, "End of the range (default: now)");
  report_cmd->add_option("--format", report_opts.format, "md or json")->capture_default_str();
  report_cmd->add_flag("--send", report_opts.send, "Send the weekly digest (the last 7 days) through alerting now");
  TopOptions top_opts;
  std::string top_interval = "1s";
  CLI::App* top_cmd = app.add_subcommand("top", "A live full-screen view of a running vigil (q quits)");
  top_cmd->add_option("--url,--server", top_opts.server, "vigil's address (default: http://<global.listen>)");
  top_cmd->add_option("--interval", top_interval, "Refresh interval")->capture_default_str();

  InitOptions init_opts;
  CLI::App* init_cmd =
      app.add_subcommand("init", "Discover a validator stack's systemd units and write a commented vigil.yml");
  init_cmd->add_option("--preset", init_opts.preset, "What to look for: arch-validator (arch-*@USER units)")
      ->required();
  init_cmd->add_option("--user", init_opts.user,
                       "The units' instance name, USER in arch-*@USER (default: the only one)");
  init_cmd->add_option("--write", init_opts.write, "Write the configuration to FILE (default: print it)");
  init_cmd->add_flag("--force", init_opts.force, "Overwrite FILE if it exists");
  init_cmd->add_flag("--dry-run", init_opts.dry_run, "Print the configuration, write nothing");
  init_cmd->add_flag("--user-bus", init_opts.user_bus,
                     "The units run under `systemd --user` (default: the system bus)");

  CLI::App* version = app.add_subcommand("version", "Print version information");

  CLI::App* hash_password = app.add_subcommand(
      "hash-password", "Print a bcrypt hash of a password (read from the terminal or stdin) for basic_auth_users");
  int hash_cost = 10;
  hash_password->add_option("--cost", hash_cost, "bcrypt cost, 4 to 31")->capture_default_str();

  CLI::App* tsdb_cmd = app.add_subcommand("tsdb", "Tools for the embedded time-series store");
  tsdb_cmd->require_subcommand(1);
  std::string tsdb_dir = "./data", import_file, dump_match, dump_from, dump_to;
  bool stats_json = false;
  CLI::App* tsdb_import =
      tsdb_cmd->add_subcommand("import", "Backfill from an OpenMetrics/Prometheus text file with timestamps");
  tsdb_import
      ->add_option("FILE", import_file, "File to import (the input of promtool tsdb create-blocks-from openmetrics)")
      ->required();
  tsdb_import->add_option("--data-dir", tsdb_dir, "Data directory")->capture_default_str();
  CLI::App* tsdb_stats = tsdb_cmd->add_subcommand("stats", "Series, samples, bytes on disk and blocks");
  tsdb_stats->add_option("--data-dir", tsdb_dir, "Data directory")->capture_default_str();
  tsdb_stats->add_flag("--json", stats_json, "Print JSON");
  CLI::App* tsdb_dump = tsdb_cmd->add_subcommand("dump", "Print samples: labels value timestamp_ms, one per line");
  tsdb_dump->add_option("--data-dir", tsdb_dir, "Data directory")->capture_default_str();
  tsdb_dump->add_option("--match", dump_match, "Series selector, e.g. 'node_load1' or '{__name__=~\"node_.*\"}'")
      ->required();
  tsdb_dump->add_option("--from", dump_from, "Start (Unix seconds or RFC 3339)");
  tsdb_dump->add_option("--to", dump_to, "End (Unix seconds or RFC 3339)");
  CLI::App* tsdb_check = tsdb_cmd->add_subcommand(
      "check", "Verify every block and WAL file of a stopped vigil's store; exit 1 if any is damaged");
  bool check_repair = false, check_json = false;
  tsdb_check->add_option("--data-dir", tsdb_dir, "Data directory")->capture_default_str();
  tsdb_check->add_flag("--repair", check_repair,
                       "Move damaged blocks into <tsdb>/quarantine/ (rewriting their readable series) and cut "
                       "damaged WAL files at their last good record (a copy kept in quarantine/wal/)");
  tsdb_check->add_flag("--json", check_json, "Print JSON");

  CLI::App* backup_cmd = app.add_subcommand(
      "backup", "Write a consistent copy of a vigil's data dir (store and state.db) into a new directory");
  std::string backup_dir, backup_server = "http://127.0.0.1:9810", backup_data_dir;
  backup_cmd->add_option("DIR", backup_dir, "Where the backup goes: a new or empty directory")->required();
  auto* backup_server_opt = backup_cmd
                                ->add_option("--server", backup_server,
                                             "A running vigil's address; it writes DIR itself (a path on its host)")
                                ->capture_default_str();
  backup_cmd
      ->add_option("--data-dir", backup_data_dir,
                   "Back up this data dir directly instead (no vigil may be running on it)")
      ->excludes(backup_server_opt);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (run_cmd->parsed()) {
    if (!config_path.empty()) run.config_path = config_path;
    if (!data_dir.empty()) run.data_dir = data_dir;
    if (!listen.empty()) run.listen = listen;
    if (!web_config_file.empty()) run.web_config_file = web_config_file;
    for (auto [flag, text, out] : {std::tuple{"--query.lookback-delta", &lookback_delta, &run.query_lookback_delta},
                                   std::tuple{"--query.timeout", &query_timeout, &run.query_timeout}}) {
      if (text->empty()) continue;
      Result<Duration> d = ParseDuration(*text);
      if (!d.ok() || d->count() <= 0) {
        std::fprintf(stderr, "%s: invalid duration \"%s\" (expected e.g. 5m, 30s)\n", flag, text->c_str());
        return 1;
      }
      *out = *d;
    }
    if (max_samples > 0) run.query_max_samples = max_samples;
    return RunAgent(run);
  }
  if (check_config->parsed()) return CheckConfig(config_files);
  if (check_web_config->parsed()) return CheckWebConfig(web_config_files);
  if (check_rules->parsed()) return CheckRules(rule_files, check_rules_config);
  if (recovery_list->parsed()) return ListRecovery(recovery_server, recovery_service, recovery_json);
  if (recovery_pause->parsed()) return PauseRecovery(recovery_server, recovery_service, recovery_for);
  if (recovery_resume->parsed()) return ResumeRecovery(recovery_server, recovery_service);
  if (recovery_reset->parsed()) return ResetRecovery(recovery_server, recovery_service);
  if (drill_cmd->parsed()) {
    auto t = ParseDuration(drill_timeout);
    if (!t.ok() || t->count() <= 0) {
      std::fprintf(stderr, "error: --timeout: expected a duration such as 120s\n");
      return 1;
    }
    drill.timeout = *t;
    auto max = ParseByteSize(drill_max);
    if (!max.ok()) {
      std::fprintf(stderr, "error: --max-bytes: %s\n", max.status().message().c_str());
      return 1;
    }
    drill.max_fill_bytes = *max;
    return RunDrill(drill);
  }
  if (silence_add->parsed()) return AddSilence(silence);
  if (notify_test->parsed()) {
    return NotifyTest(notify_config.empty() ? std::nullopt : std::optional<std::string>(notify_config), notify_receiver,
                      notify_severity);
  }
  if (silence_list->parsed()) return ListSilences(silence.server, silence_expired, silence_json);
  if (silence_expire->parsed()) return ExpireSilence(silence.server, silence_id);
  if (quality_cmd->parsed()) return AlertQuality(quality);
  if (alerts_cmd->parsed()) return ListAlerts(alerts_server, alerts_json);
  if (status_cmd->parsed()) {
    if (status_opts.server.empty()) status_opts.server = DefaultServerUrl();
    return ShowStatus(status_opts);
  }
  if (report_cmd->parsed()) {
    if (report_opts.server.empty()) report_opts.server = DefaultServerUrl();
    return ShowReport(report_opts);
  }
  if (capacity_cmd->parsed()) {
    if (capacity_server.empty()) capacity_server = DefaultServerUrl();
    return ShowCapacity(capacity_server, capacity_json);
  }
  if (top_cmd->parsed()) {
    auto d = ParseDuration(top_interval);
    if (!d.ok() || d->count() < 100 || d->count() > 60000) {
      std::fprintf(stderr, "error: --interval: expected a duration from 100ms to 1m, got \"%s\"\n",
                   top_interval.c_str());
      return 1;
    }
    top_opts.interval = *d;
    if (top_opts.server.empty()) top_opts.server = DefaultServerUrl();
    return RunTop(top_opts);
  }
  if (test_rules->parsed()) return TestRules(rule_test_files);
  if (query_cmd->parsed()) return QueryInstant(query_target, query_expr, query_time);
  if (range_cmd->parsed()) return QueryRange(query_target, query_expr, range_start, range_end, range_step);
  if (tsdb_import->parsed()) return TsdbImport(tsdb_dir, import_file);
  if (tsdb_stats->parsed()) return TsdbStats(tsdb_dir, stats_json);
  if (tsdb_dump->parsed()) return TsdbDump(tsdb_dir, dump_match, dump_from, dump_to);
  if (tsdb_check->parsed()) return TsdbCheck(tsdb_dir, check_repair, check_json);
  if (sla_cmd->parsed()) return ShowSla(sla);
  if (incidents_cmd->parsed()) return Incidents(incidents_opts);
  if (backup_cmd->parsed()) return Backup(backup_dir, backup_server, backup_data_dir);
  if (hash_password->parsed()) return HashPasswordCommand(hash_cost);
  if (init_cmd->parsed()) return RunInit(init_opts);
  if (version->parsed()) {
    collect::BuildInfo b = GetBuildInfo();
    std::printf("vigil version %s (revision %s)\n  compiler: %s\n", b.version.c_str(), b.revision.c_str(),
                b.compiler.c_str());
    return 0;
  }
  return 1;
}

}  // namespace vigil::cli

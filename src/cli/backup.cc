#include "cli/backup.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>

#include "base/file.h"
#include "base/log.h"
#include "base/time.h"
#include "cli/output.h"
#include "http/client.h"
#include "tsdb/check.h"

namespace vigil::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A backup copies every block; a large store on a slow disk takes a while.
constexpr Duration kBackupTimeout{30LL * 60 * 1000};

// Makes `target` a new or empty directory; `*created` tells whether it was made here.
Status PrepareTarget(const std::string& target, bool* created) {
  *created = false;
  if (target.empty() || target[0] != '/')
    return Status::Error(target + ": the backup directory must be an absolute path");
  std::error_code ec;
  if (fs::exists(target, ec)) {
    if (!fs::is_directory(target, ec)) return Status::Error(target + ": exists and is not a directory");
    if (!fs::is_empty(target, ec)) {
      return Status::Error(target + ": exists and is not empty (a backup goes into a new or empty directory)");
    }
    if (::access(target.c_str(), W_OK) != 0) return Status::Error(target + ": " + std::strerror(errno));
    return Status::Ok();
  }
  fs::path parent = fs::path(target).parent_path();
  for (fs::path p = parent; !p.empty() && p != p.root_path(); p = p.parent_path()) {
    if (fs::exists(p, ec)) {
      if (!fs::is_directory(p, ec)) return Status::Error(target + ": " + p.string() + " is not a directory");
      break;
    }
  }
  fs::create_directories(parent, ec);
  if (ec) return Status::Error("create " + parent.string() + ": " + ec.message());
  // state.db holds notification payloads: only vigil's user reads the copy.
  if (::mkdir(target.c_str(), 0700) != 0) return Status::Error("create " + target + ": " + std::strerror(errno));
  *created = true;
  return Status::Ok();
}

void RemovePartial(const std::string& target, bool created) {
  std::error_code ec;
  if (created) {
    fs::remove_all(target, ec);
    return;
  }
  for (const char* name : {"tsdb", "state.db", "state.db-journal", "state.db-wal", "state.db-shm", "backup.json"}) {
    fs::remove_all(target + "/" + name, ec);
  }
}

std::string SqliteError(sqlite3* db, int rc) {
  return db != nullptr && sqlite3_errcode(db) == rc ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
}

json ResultJson(const BackupResult& r) {
  return {{"dir", r.dir},
          {"blocks", r.tsdb.blocks},
          {"headBlocks", r.tsdb.head_blocks},
          {"headSamples", r.tsdb.head_samples},
          {"maxTime", r.tsdb.max_time},
          {"stateDb", r.state_db}};
}

http::Response JsonResponse(int status, const json& body) {
  http::Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump();
  return r;
}

http::Response ApiFailure(int status, const std::string& type, const std::string& message) {
  return JsonResponse(status, {{"status", "error"}, {"errorType", type}, {"error", message}});
}

std::string SnapshotName() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  static std::mt19937_64 rng{std::random_device{}()};
  static std::mutex mu;
  std::lock_guard lock(mu);
  char name[64];
  std::snprintf(name, sizeof name, "%s-%016llx", stamp, static_cast<unsigned long long>(rng()));
  return name;
}

}  // namespace

Status BackupSqlite(const std::string& from, const std::string& to) {
  sqlite3* src = nullptr;
  sqlite3* dst = nullptr;
  auto close_all = [&] {
    sqlite3_close_v2(src);
    sqlite3_close_v2(dst);
  };
  int rc = sqlite3_open_v2(from.c_str(), &src, SQLITE_OPEN_READWRITE, nullptr);
  if (rc != SQLITE_OK) {
    Status s = Status::Error("open " + from + ": " + SqliteError(src, rc));
    close_all();
    return s;
  }
  sqlite3_busy_timeout(src, 5000);
  rc = sqlite3_open_v2(to.c_str(), &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    Status s = Status::Error("create " + to + ": " + SqliteError(dst, rc));
    close_all();
    return s;
  }
  sqlite3_backup* b = sqlite3_backup_init(dst, "main", src, "main");
  if (b == nullptr) {
    Status s = Status::Error("back up " + from + " into " + to + ": " + sqlite3_errmsg(dst));
    close_all();
    return s;
  }
  // All pages in one step: one read transaction, so the copy is consistent
  // (in WAL mode vigil's writers go on meanwhile). Busy: retry, bounded.
  for (int attempt = 0; attempt < 100; ++attempt) {
    rc = sqlite3_backup_step(b, -1);
    if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) break;
    sqlite3_sleep(50);
  }
  sqlite3_backup_finish(b);
  Status s = Status::Ok();
  if (rc != SQLITE_DONE) s = Status::Error("back up " + from + " into " + to + ": " + sqlite3_errstr(rc));
  close_all();
  if (!s.ok()) ::unlink(to.c_str());
  return s;
}

Result<BackupResult> BackupDataDir(tsdb::DB& db, const std::string& data_dir, const std::string& target,
                                   bool with_head) {
  std::error_code ec;
  std::string store = fs::absolute(data_dir + "/tsdb", ec).lexically_normal().string();
  if (target == store || target.starts_with(store + "/")) {
    return Status::Error(target + ": inside the store " + store + " (vigil would read it as part of the store)");
  }
  bool created = false;
  if (Status s = PrepareTarget(target, &created); !s.ok()) return s;
  auto started = std::chrono::steady_clock::now();
  BackupResult result;
  result.dir = target;
  Result<tsdb::SnapshotInfo> snap = db.Snapshot(target + "/tsdb", with_head);
  if (!snap.ok()) {
    RemovePartial(target, created);
    return snap.status();
  }
  result.tsdb = *snap;
  std::string state = data_dir + "/state.db";
  if (fs::exists(state, ec)) {
    if (Status s = BackupSqlite(state, target + "/state.db"); !s.ok()) {
      RemovePartial(target, created);
      return s;
    }
    result.state_db = true;
  }
  json meta = ResultJson(result);
  meta["created"] = FormatTime(SystemClock().NowMs());
  meta["sourceDataDir"] = data_dir;
  meta.erase("dir");
  if (Status s = WriteFileSynced(target + "/backup.json", meta.dump(2) + "\n"); !s.ok()) {
    RemovePartial(target, created);
    return s;
  }
  (void)SyncDir(target);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  LogInfo("backup written", {{"dir", target},
                             {"blocks", std::to_string(result.tsdb.blocks)},
                             {"head_samples", std::to_string(result.tsdb.head_samples)},
                             {"state_db", result.state_db ? "true" : "false"},
                             {"seconds", std::to_string(seconds)}});
  return result;
}

http::Route NewAdminRoute(tsdb::DB* db, std::string data_dir) {
  return {
      "/api/v1/admin/", [db, data_dir = std::move(data_dir)](const http::Request& req) {
        bool backup = req.path == "/api/v1/admin/backup";
        bool snapshot = req.path == "/api/v1/admin/tsdb/snapshot";
        if (!backup && !snapshot) return ApiFailure(404, "not_found", "no such admin endpoint: " + req.path);
        if (req.method != "POST" && req.method != "PUT") {
          http::Response r = ApiFailure(405, "bad_data", req.path + " takes POST");
          r.headers.push_back({"Allow", "POST, PUT"});
          return r;
        }
        std::string target;
        if (backup) {
          target = req.Param("dir");
          if (target.empty()) return ApiFailure(400, "bad_data", "missing parameter dir (an absolute path)");
          if (target[0] != '/') return ApiFailure(400, "bad_data", "dir " + target + ": must be an absolute path");
          target = fs::path(target).lexically_normal().string();
          if (target.size() > 1 && target.back() == '/') target.pop_back();
        } else {
          target = data_dir + "/snapshots/" + SnapshotName();
          if (target[0] != '/') target = fs::absolute(target).lexically_normal().string();
        }
        Result<BackupResult> r = BackupDataDir(*db, data_dir, target, req.Param("skip_head") != "true");
        if (!r.ok()) {
          LogError("backup failed", {{"dir", target}, {"err", r.status().message()}});
          return ApiFailure(500, "internal", r.status().message());
        }
        if (snapshot) {
          return JsonResponse(200, {{"status", "success"}, {"data", {{"name", fs::path(target).filename().string()}}}});
        }
        return JsonResponse(200, {{"status", "success"}, {"data", ResultJson(*r)}});
      }};
}

int Backup(const std::string& target_arg, const std::string& server, const std::string& data_dir) {
  std::error_code ec;
  std::string target = fs::absolute(target_arg, ec).lexically_normal().string();
  if (target.size() > 1 && target.back() == '/') target.pop_back();
  BackupResult result;
  std::string source;
  if (!data_dir.empty()) {
    SetLogLevel(LogLevel::kWarn);
    source = data_dir;
    tsdb::Options o;
    o.dir = data_dir + "/tsdb";
    // Only a copy is wanted: no retention or downsampling while the store is open.
    o.retention = o.retention_5m = o.retention_1h = Duration(std::numeric_limits<int64_t>::max() / 2);
    o.downsample = false;
    if (!fs::is_directory(o.dir, ec)) return Fail(o.dir + ": no vigil storage here");
    auto db = tsdb::DB::Open(o);
    if (!db.ok()) {
      return Fail(db.status().message() + "; to back up a running vigil use `vigil backup DIR --server URL`");
    }
    Result<BackupResult> r = BackupDataDir(**db, data_dir, target);
    (void)(*db)->Close();
    if (!r.ok()) return Fail("backup failed: " + r.status().message());
    result = *r;
  } else {
    source = server;
    auto r = http::PostForm(server, "/api/v1/admin/backup", {{"dir", target}}, kBackupTimeout);
    if (!r.ok()) return Fail(r.status().message());
    if (r->status != 200) return Fail("backup failed: " + ApiError(*r));
    json j = json::parse(r->body, nullptr, false);
    if (!j.is_object() || !j.contains("data")) return Fail("unexpected answer: " + r->body.substr(0, 200));
    const json& d = j["data"];
    result.dir = d.value("dir", target);
    result.tsdb.blocks = d.value("blocks", uint64_t{0});
    result.tsdb.head_blocks = d.value("headBlocks", uint64_t{0});
    result.tsdb.head_samples = d.value("headSamples", uint64_t{0});
    result.tsdb.max_time = d.value("maxTime", int64_t{0});
    result.state_db = d.value("stateDb", false);
  }
  std::printf("backup of %s written to %s\n", source.c_str(), result.dir.c_str());
  std::printf("  tsdb: %llu blocks (%llu from the head, %llu samples), newest sample %s\n",
              static_cast<unsigned long long>(result.tsdb.blocks),
              static_cast<unsigned long long>(result.tsdb.head_blocks),
              static_cast<unsigned long long>(result.tsdb.head_samples),
              result.tsdb.max_time > 0 ? FormatTime(result.tsdb.max_time).c_str() : "none");
  std::printf("  state.db: %s\n",
              result.state_db ? "copied (silences, outbox, alert state, recovery audit)" : "none in the data dir");
  std::printf("restore: stop vigil, then start it with --data-dir %s (or copy its contents into the data dir)\n",
              result.dir.c_str());
  return 0;
}

int TsdbCheck(const std::string& data_dir, bool repair, bool as_json) {
  SetLogLevel(LogLevel::kWarn);
  tsdb::CheckOptions o;
  o.dir = data_dir + "/tsdb";
  o.repair = repair;
  Result<tsdb::CheckReport> r = tsdb::CheckStore(o);
  if (!r.ok()) {
    std::fprintf(stderr, "error: %s\n", r.status().message().c_str());
    return 2;
  }
  const tsdb::CheckReport& rep = *r;
  if (as_json) {
    json damaged = json::array();
    for (const auto& d : rep.damaged) {
      json item = {{"path", d.path},
                   {"kind", d.kind == tsdb::Damage::Kind::kBlock ? "block" : "wal"},
                   {"reason", d.reason},
                   {"repaired", d.repaired}};
      if (repair) item["repair"] = d.repair;
      damaged.push_back(std::move(item));
    }
    json out = {{"dir", o.dir},
                {"ok", rep.damaged.empty()},
                {"blocks", rep.blocks},
                {"walFiles", rep.wal_files},
                {"series", rep.series},
                {"samples", rep.samples},
                {"walRecords", rep.wal_records},
                {"damaged", damaged}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    for (const auto& d : rep.damaged) {
      std::printf("damaged: %s: %s\n", d.path.c_str(), d.reason.c_str());
      if (repair) std::printf("  %s: %s\n", d.repaired ? "repaired" : "NOT repaired", d.repair.c_str());
    }
    std::printf("checked %s: %llu blocks (%llu series, %llu samples readable), %llu WAL files (%llu records): ",
                o.dir.c_str(), static_cast<unsigned long long>(rep.blocks), static_cast<unsigned long long>(rep.series),
                static_cast<unsigned long long>(rep.samples), static_cast<unsigned long long>(rep.wal_files),
                static_cast<unsigned long long>(rep.wal_records));
    if (rep.damaged.empty()) {
      std::printf("no damage\n");
    } else {
      std::printf("%zu damaged file%s%s\n", rep.damaged.size(), rep.damaged.size() == 1 ? "" : "s",
                  repair ? "" : " (run again with --repair to quarantine and cut them)");
    }
  }
  return rep.damaged.empty() ? 0 : 1;
}

}  // namespace vigil::cli

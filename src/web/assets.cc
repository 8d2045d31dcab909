// The UI's files, embedded at build time: web/build.mjs writes them to the
// build tree and the assembler includes them byte for byte, so the binary
// serves them with nothing to install.
#include <zlib.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "web/web.h"

#ifndef VIGIL_WEB_DIST
#error "VIGIL_WEB_DIST names the directory web/build.mjs wrote (set by src/web/CMakeLists.txt)"
#endif

#define VIGIL_EMBED(symbol, file)                         \
  asm(".section .rodata\n"                                \
      ".global " #symbol                                  \
      "_begin\n"                                          \
      ".global " #symbol                                  \
      "_end\n"                                            \
      ".balign 16\n" #symbol                              \
      "_begin:\n"                                         \
      ".incbin \"" VIGIL_WEB_DIST "/" file "\"\n" #symbol \
      "_end:\n"                                           \
      ".previous\n");                                     \
  extern "C" const char symbol##_begin[];                 \
  extern "C" const char symbol##_end[];

VIGIL_EMBED(vigil_web_index_html, "index.html")
VIGIL_EMBED(vigil_web_app_js, "app.js")
VIGIL_EMBED(vigil_web_app_css, "app.css")

namespace vigil::web {
namespace {

struct Asset {
  std::string path;  // as requested
  std::string content_type;
  std::string plain;
  std::string gzipped;  // empty when gzip would not help
  std::string etag;
  bool immutable = false;  // fetched with ?v=<etag>: cached for a year
};

// FNV-1a, 64 bits: an ETag only needs to change when the bytes do.
std::string Fingerprint(std::string_view bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

Asset MakeAsset(std::string path, std::string content_type, std::string bytes, bool immutable) {
  Asset a;
  a.path = std::move(path);
  a.content_type = std::move(content_type);
  a.plain = std::move(bytes);
  a.etag = Fingerprint(a.plain);
  a.immutable = immutable;
  std::string gz = http::Gzip(a.plain, Z_BEST_COMPRESSION);
  if (!gz.empty() && gz.size() < a.plain.size()) a.gzipped = std::move(gz);
  return a;
}

// index.html names the other files as {{app.js}}; they become
// /assets/app.js?v=<etag>, so a new binary's assets are never mixed with a
// cached old page.
std::vector<Asset> BuildAssets() {
  std::vector<Asset> out;
  out.push_back(MakeAsset("/assets/app.js", "application/javascript; charset=utf-8",
                          std::string(vigil_web_app_js_begin, vigil_web_app_js_end), true));
  out.push_back(MakeAsset("/assets/app.css", "text/css; charset=utf-8",
                          std::string(vigil_web_app_css_begin, vigil_web_app_css_end), true));
  std::string index(vigil_web_index_html_begin, vigil_web_index_html_end);
  for (const Asset& a : out) {
    std::string name = a.path.substr(a.path.rfind('/') + 1);
    const std::string placeholder = "{{" + name + "}}";
    for (size_t at; (at = index.find(placeholder)) != std::string::npos;) {
      index.replace(at, placeholder.size(), a.path + "?v=" + a.etag);
    }
  }
  out.push_back(MakeAsset("/", "text/html; charset=utf-8", std::move(index), false));
  return out;
}

http::Response Serve(const Asset& a, const http::Request& r) {
  http::Response resp;
  resp.content_type = a.content_type;
  std::string etag = "\"" + a.etag + "\"";
  resp.headers.emplace_back("ETag", etag);
  resp.headers.emplace_back("Cache-Control",
                            a.immutable && r.Param("v") == a.etag ? "public, max-age=31536000, immutable" : "no-cache");
  resp.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (a.path == "/") {
    // The page loads only its own scripts and talks only to this origin.
    resp.headers.emplace_back("Content-Security-Policy",
                              "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                              "frame-ancestors 'none'");
    resp.headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  if (r.Header("if-none-match") == etag) {
    resp.status = 304;
    return resp;
  }
  if (!a.gzipped.empty() && http::AcceptsGzip(r.Header("accept-encoding"))) {
    resp.body = a.gzipped;
    resp.headers.emplace_back("Content-Encoding", "gzip");
    resp.headers.emplace_back("Vary", "Accept-Encoding");
  } else {
    resp.body = a.plain;
  }
  return resp;
}

}  // namespace

http::Route NewUiRoute() {
  auto assets = std::make_shared<const std::vector<Asset>>(BuildAssets());
  return http::Route{
      "/", [assets](const http::Request& r) -> http::Response {
        for (const Asset& a : *assets) {
          if (a.path != r.path) continue;
          if (r.method != "GET") {
            return {
                405, "text/plain; charset=utf-8", "method not allowed: use GET or HEAD\n", {{"Allow", "GET, HEAD"}}};
          }
          return Serve(a, r);
        }
        return {404, "text/plain; charset=utf-8", "404 page not found: " + r.path + "\n", {}};
      }};
}

}  // namespace vigil::web

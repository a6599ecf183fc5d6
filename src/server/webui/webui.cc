// Serves the embedded chat page (see webui.h).
#include "server/webui/webui.h"

#include <httplib.h>

#include <string>

namespace parley {

// default-src 'none' forbids everything not listed: scripts and styles come only from this
// origin as files (no inline code, no eval), fetch() goes only to this origin, images only
// from this origin or data: URLs; no plugins, no framing, no <base>, no form posts.
const char kWebUiCsp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; manifest-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

const WebAsset* FindWebAsset(std::string_view path) {
  for (const WebAsset& a : WebUiAssets()) {
    if (a.path == path) return &a;
  }
  return nullptr;
}

void AddWebUiRoutes(httplib::Server& server) {
  for (const WebAsset& asset : WebUiAssets()) {
    const WebAsset* a = &asset;
    // Routes are regular expressions: match the dots literally.
    std::string pattern;
    for (char c : a->path) pattern += c == '.' ? std::string("\\.") : std::string(1, c);
    server.Get(pattern, [a](const httplib::Request&, httplib::Response& res) {
      res.set_header("Content-Security-Policy", kWebUiCsp);
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Referrer-Policy", "no-referrer");
      res.set_header("X-Frame-Options", "DENY");
      // A new binary's page must not be mixed with an old cached script.
      res.set_header("Cache-Control", "no-cache");
      res.set_content(std::string(a->body), std::string(a->content_type));
    });
  }
}

}  // namespace parley

#include "server/webui/webui.h"

#include <httplib.h>
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <thread>

namespace parley {
namespace {

TEST(WebUiTest, EmbedsThePageAndItsFiles) {
  for (const char* path : {"/", "/app.css", "/app.js", "/markdown.js", "/store.js", "/api.js", "/tree.js"}) {
    const WebAsset* a = FindWebAsset(path);
    ASSERT_NE(a, nullptr) << path;
    EXPECT_GT(a->body.size(), 200u) << path;
  }
  EXPECT_EQ(FindWebAsset("/missing.js"), nullptr);
  EXPECT_EQ(FindWebAsset("/")->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(FindWebAsset("/app.js")->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(FindWebAsset("/app.css")->content_type, "text/css; charset=utf-8");
}

// The CSP forbids inline code, so the page must have none: every <script> names a file of
// ours, and there is no <style> element, style="" attribute or on*="" handler.
TEST(WebUiTest, ThePageHasNoInlineCodeOrRemoteSources) {
  const std::string html(FindWebAsset("/")->body);
  std::smatch m;
  std::string rest = html;
  int scripts = 0;
  const std::regex script(R"re(<script([^>]*)>)re");
  while (std::regex_search(rest, m, script)) {
    const std::string attrs = m[1];
    std::smatch src;
    ASSERT_TRUE(std::regex_search(attrs, src, std::regex(R"re(src="(/[a-z_]+\.js)")re"))) << attrs;
    EXPECT_NE(FindWebAsset(src[1].str()), nullptr) << src[1];
    rest = m.suffix();
    ++scripts;
  }
  EXPECT_GE(scripts, 1);
  EXPECT_EQ(html.find("<style"), std::string::npos);
  EXPECT_EQ(html.find(" style="), std::string::npos);
  EXPECT_FALSE(std::regex_search(html, std::regex(R"( on[a-z]+=)")));
  for (const WebAsset& a : WebUiAssets()) {
    const std::string body(a.body);
    EXPECT_EQ(body.find("http://"), std::string::npos) << a.path;
    EXPECT_EQ(body.find("https://"), std::string::npos) << a.path;
    EXPECT_EQ(body.find("innerHTML"), std::string::npos) << a.path;
    EXPECT_EQ(body.find("eval("), std::string::npos) << a.path;
  }
}

TEST(WebUiTest, RoutesServeEachFileWithTheCsp) {
  httplib::Server server;
  AddWebUiRoutes(server);
  const int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread t([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  httplib::Client client("127.0.0.1", port);
  for (const WebAsset& a : WebUiAssets()) {
    auto res = client.Get(std::string(a.path).c_str());
    ASSERT_TRUE(res) << a.path;
    EXPECT_EQ(res->status, 200) << a.path;
    EXPECT_EQ(res->body, a.body) << a.path;
    EXPECT_EQ(res->get_header_value("Content-Type"), a.content_type) << a.path;
    EXPECT_EQ(res->get_header_value("Content-Security-Policy"), kWebUiCsp) << a.path;
    EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff") << a.path;
  }
  // The dot of "/app.js" is literal, not a regular-expression wildcard.
  auto res = client.Get("/app_js");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  server.stop();
  t.join();
}

TEST(WebUiTest, TheCspAllowsNoInlineCodeAndNoOtherOrigin) {
  const std::string csp = kWebUiCsp;
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos);
  EXPECT_NE(csp.find("script-src 'self';"), std::string::npos);
  EXPECT_NE(csp.find("style-src 'self';"), std::string::npos);
  EXPECT_NE(csp.find("connect-src 'self';"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe"), std::string::npos);
  EXPECT_EQ(csp.find("*"), std::string::npos);
}

}  // namespace
}  // namespace parley

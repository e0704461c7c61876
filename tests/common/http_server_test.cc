#include "common/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <future>
#include <mutex>
#include <thread>

namespace tidemark {
namespace {

// Sends raw bytes to 127.0.0.1:port and returns everything until the server closes or `until`
// appears.
std::string RawExchange(uint16_t port, const std::string& request, const std::string& until = "") {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "connect failed";
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (!until.empty() && out.find(until) != std::string::npos) break;
  }
  ::close(fd);
  return out;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(HttpHandler h, HttpServerOptions opts = {}) {
    auto s = HttpServer::Create(io_, "127.0.0.1:0", std::move(h), opts);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (server_) server_->Stop();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  boost::asio::io_context io_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
};

TEST_F(HttpServerTest, RoutesDecodedPathAndQuery) {
  Start([](const HttpRequest& req, HttpResponse* resp) {
    resp->body = req.method + " " + req.path + " q=" + std::string(req.Param("query")) +
                 " accept=" + std::string(req.Header("accept"));
  });
  std::string out = RawExchange(server_->port(),
                                "GET /api/v1/query?query=rate(x%5B5m%5D)+%2B+1 HTTP/1.1\r\n"
                                "Host: x\r\nAccept: text/plain\r\nConnection: close\r\n\r\n");
  EXPECT_NE(out.find("HTTP/1.1 200 OK"), std::string::npos) << out;
  EXPECT_NE(out.find("GET /api/v1/query q=rate(x[5m]) + 1 accept=text/plain"), std::string::npos)
      << out;
}

TEST_F(HttpServerTest, FormEncodedPostBodyBecomesParameters) {
  Start([](const HttpRequest& req, HttpResponse* resp) {
    resp->body = "q=" + std::string(req.Param("query"));
  });
  std::string body = "query=up%7Bjob%3D%22a%22%7D";
  std::string out =
      RawExchange(server_->port(),
                  "POST /api/v1/query HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                  "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_NE(out.find("q=up{job=\"a\"}"), std::string::npos) << out;
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  int calls = 0;
  Start(
      [&](const HttpRequest&, HttpResponse* resp) { resp->body = "n=" + std::to_string(++calls); });
  std::string req = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string out = RawExchange(server_->port(), req + req, "n=2");
  EXPECT_NE(out.find("n=1"), std::string::npos) << out;
  EXPECT_NE(out.find("n=2"), std::string::npos) << out;
}

TEST_F(HttpServerTest, MalformedRequestsGet400AndServerKeepsServing) {
  Start([](const HttpRequest&, HttpResponse* resp) { resp->body = "fine"; });
  std::string out = RawExchange(server_->port(), "GARBAGE\r\n\r\n");
  EXPECT_EQ(out.find("200 OK"), std::string::npos) << out;
  out =
      RawExchange(server_->port(), "GET /x?a=%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(out.find("400 Bad Request"), std::string::npos) << out;
  out = RawExchange(server_->port(), "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(out.find("fine"), std::string::npos) << out;
}

TEST_F(HttpServerTest, OversizedBodyGets413) {
  HttpServerOptions opts;
  opts.max_body_bytes = 10;
  Start([](const HttpRequest&, HttpResponse* resp) { resp->body = "fine"; }, opts);
  std::string out =
      RawExchange(server_->port(), "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" +
                                       std::string(100, 'a'));
  EXPECT_NE(out.find("413"), std::string::npos) << out;
}

TEST_F(HttpServerTest, HandlerExceptionBecomes500) {
  Start([](const HttpRequest&, HttpResponse*) { throw std::runtime_error("boom"); });
  std::string out =
      RawExchange(server_->port(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(out.find("500 Internal Server Error"), std::string::npos) << out;
}

TEST_F(HttpServerTest, FormBodyParametersComeBeforeUrlParameters) {
  Start([](const HttpRequest& req, HttpResponse* resp) {
    resp->body = "q=" + std::string(req.Param("query"));
  });
  std::string out = RawExchange(server_->port(),
                                "POST /api/v1/query?query=url HTTP/1.1\r\nHost: x\r\n"
                                "Connection: close\r\nContent-Type: "
                                "application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\n"
                                "query=body");
  EXPECT_NE(out.find("q=body"), std::string::npos) << out;
}

TEST(HttpServerAsyncTest, SlowRequestDoesNotBlockOthers) {
  // /slow is answered from another thread only after /fast has been answered: with a blocking
  // server /fast would never get through and its exchange would come back empty.
  boost::asio::io_context io;
  std::promise<void> fast_done;
  std::shared_future<void> fast_done_f = fast_done.get_future().share();
  std::promise<void> slow_received;
  std::vector<std::thread> workers;
  std::mutex mu;
  auto server =
      HttpServer::CreateAsync(io, "127.0.0.1:0", [&](HttpRequest req, HttpRespond respond) {
        if (req.path == "/slow") {
          std::lock_guard<std::mutex> lock(mu);
          workers.emplace_back([fast_done_f, respond = std::move(respond)] {
            fast_done_f.wait();
            HttpResponse r;
            r.body = "slow answered";
            respond(r);
            respond(HttpResponse{});  // A second call is ignored.
          });
          slow_received.set_value();
          return;
        }
        HttpResponse r;
        r.body = "fast answered";
        respond(std::move(r));
      });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  std::thread io_thread([&] { io.run(); });
  uint16_t port = (*server)->port();
  std::string slow_out;
  std::thread slow([&] {
    slow_out = RawExchange(port, "GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  });
  slow_received.get_future().wait();  // /slow is now pending in the server.
  std::string fast_out =
      RawExchange(port, "GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  fast_done.set_value();
  slow.join();
  EXPECT_NE(fast_out.find("fast answered"), std::string::npos) << fast_out;
  EXPECT_NE(slow_out.find("slow answered"), std::string::npos) << slow_out;
  (*server)->Stop();
  io.stop();
  io_thread.join();
  for (auto& w : workers) w.join();
}

TEST(HttpServerCreateTest, AddressInUseIsUnavailable) {
  boost::asio::io_context io;
  auto a = HttpServer::Create(io, "127.0.0.1:0", [](const HttpRequest&, HttpResponse*) {});
  ASSERT_TRUE(a.ok());
  std::string addr = "127.0.0.1:" + std::to_string((*a)->port());
  auto b = HttpServer::Create(io, addr, [](const HttpRequest&, HttpResponse*) {});
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(b.status().message().find(addr), std::string::npos);
  (*a)->Stop();
}

TEST(HttpServerCreateTest, RejectsBadListenAddresses) {
  boost::asio::io_context io;
  for (const char* bad : {"nocolon", "127.0.0.1:x", "127.0.0.1:70000", "no.such.host.invalid:1"}) {
    auto s = HttpServer::Create(io, bad, [](const HttpRequest&, HttpResponse*) {});
    EXPECT_FALSE(s.ok()) << bad;
  }
}

TEST(QueryStringTest, DecodesPairs) {
  auto q = ParseQueryString("a=1&b=x+y&c=%41%2f&d&&a=2");
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 5u);
  EXPECT_EQ((*q)[1].second, "x y");
  EXPECT_EQ((*q)[2].second, "A/");
  EXPECT_EQ((*q)[3].first, "d");
  EXPECT_EQ((*q)[4].second, "2");
  EXPECT_FALSE(ParseQueryString("a=%4").ok());
  EXPECT_FALSE(ParseQueryString("a=%g1").ok());
}

}  // namespace
}  // namespace tidemark

#include "common/http_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "common/file_util.h"
#include "common/http_server.h"
#include "tests/testing/testing.h"
#include "tests/testing/tls_test_server.h"

namespace tidemark {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using Handler = std::function<void(const Request&, Response*)>;

enum class Mode { kRespond, kHang, kCloseWithoutResponse };

// A one-thread blocking server: accepts, reads one request, answers, closes. kHang keeps each
// connection open without answering until the server is destroyed.
template <class Protocol>
class TestServer {
 public:
  TestServer(const typename Protocol::endpoint& ep, Handler handler, Mode mode = Mode::kRespond)
      : acceptor_(ioc_, ep), handler_(std::move(handler)), mode_(mode) {
    endpoint_ = acceptor_.local_endpoint();
    thread_ = std::thread([this] { Loop(); });
  }
  ~TestServer() {
    stop_ = true;
    try {
      asio::io_context wake_ioc;
      typename Protocol::socket wake(wake_ioc);
      wake.connect(endpoint_);
    } catch (...) {
    }
    thread_.join();
  }
  const typename Protocol::endpoint& endpoint() const { return endpoint_; }
  int requests() const { return requests_; }

 private:
  void Loop() {
    while (!stop_) {
      auto sock = std::make_unique<typename Protocol::socket>(ioc_);
      beast::error_code ec;
      acceptor_.accept(*sock, ec);
      if (ec || stop_) break;
      ++requests_;
      if (mode_ == Mode::kHang) {
        held_.push_back(std::move(sock));
        continue;
      }
      if (mode_ == Mode::kCloseWithoutResponse) continue;
      beast::flat_buffer buf;
      Request req;
      http::read(*sock, buf, req, ec);
      if (ec) continue;
      Response res{http::status::ok, 11};
      handler_(req, &res);
      res.prepare_payload();
      http::write(*sock, res, ec);
      sock->shutdown(Protocol::socket::shutdown_send, ec);
    }
  }

  asio::io_context ioc_;
  typename Protocol::acceptor acceptor_;
  typename Protocol::endpoint endpoint_;
  Handler handler_;
  Mode mode_;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::vector<std::unique_ptr<typename Protocol::socket>> held_;
  std::thread thread_;
};

using TcpServer = TestServer<asio::ip::tcp>;
using UnixServer = TestServer<asio::local::stream_protocol>;

asio::ip::tcp::endpoint Loopback() {
  return asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0);
}

void Echo(const Request& req, Response* res) {
  res->set("X-Method", std::string(req.method_string()));
  res->set("X-Target", std::string(req.target()));
  res->set("X-Host", std::string(req[http::field::host]));
  res->set("X-Custom", std::string(req["X-Custom"]));
  res->body() = req.body();
}

TEST(HttpClientTest, TcpGetReturnsStatusHeadersAndBody) {
  TcpServer server(Loopback(), [](const Request& req, Response* res) {
    Echo(req, res);
    res->body() = "hello";
  });
  HttpClient client = HttpClient::Tcp("127.0.0.1", server.endpoint().port());
  Result<HttpClientResponse> r = client.Get("/containers/json?all=0");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->Header("x-method"), "GET");
  EXPECT_EQ(r->Header("X-TARGET"), "/containers/json?all=0");
  EXPECT_EQ(r->Header("X-Host"), "127.0.0.1:" + std::to_string(server.endpoint().port()));
  EXPECT_EQ(r->Header("Content-Length"), "5");
  EXPECT_EQ(r->Header("absent"), "");
}

TEST(HttpClientTest, TcpPostSendsBodyAndHeaders) {
  TcpServer server(Loopback(), Echo);
  HttpClient client = HttpClient::Tcp("localhost", server.endpoint().port());
  HttpClientRequest req;
  req.method = "POST";
  req.target = "/api/v2/alerts";
  req.headers = {{"X-Custom", "abc"}, {"Content-Type", "application/json"}};
  req.body = R"([{"labels":{"alertname":"x"}}])";
  Result<HttpClientResponse> r = client.Send(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->Header("X-Method"), "POST");
  EXPECT_EQ(r->Header("X-Custom"), "abc");
  EXPECT_EQ(r->body, req.body);
}

TEST(HttpClientTest, NonOkStatusIsASuccessfulResult) {
  TcpServer server(Loopback(), [](const Request&, Response* res) {
    res->result(http::status::not_found);
    res->body() = R"({"message":"No such container"})";
  });
  Result<HttpClientResponse> r =
      HttpClient::Tcp("127.0.0.1", server.endpoint().port()).Get("/containers/x/json");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, R"({"message":"No such container"})");
}

TEST(HttpClientTest, UnixSocketRoundTrip) {
  testing::TempDir dir;
  std::string path = dir.path() + "/api.sock";
  UnixServer server(asio::local::stream_protocol::endpoint(path), Echo);
  HttpClientRequest req;
  req.method = "PUT";
  req.target = "/v1.41/services/web/update?version=3";
  req.body = "{}";
  Result<HttpClientResponse> r = HttpClient::Unix(path).Send(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("X-Method"), "PUT");
  EXPECT_EQ(r->Header("X-Target"), req.target);
  EXPECT_EQ(r->Header("X-Host"), "localhost");
  EXPECT_EQ(r->body, "{}");
}

TEST(HttpClientTest, CustomHostHeader) {
  testing::TempDir dir;
  std::string path = dir.path() + "/api.sock";
  UnixServer server(asio::local::stream_protocol::endpoint(path), Echo);
  HttpClientOptions opts;
  opts.host_header = "docker";
  Result<HttpClientResponse> r = HttpClient::Unix(path, opts).Get("/_ping");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->Header("X-Host"), "docker");
}

TEST(HttpClientTest, ChunkedResponseIsDecoded) {
  TcpServer server(Loopback(), [](const Request&, Response* res) {
    res->body() = std::string(10000, 'x');
    res->chunked(true);
  });
  Result<HttpClientResponse> r = HttpClient::Tcp("127.0.0.1", server.endpoint().port()).Get("/");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, std::string(10000, 'x'));
}

TEST(HttpClientTest, TimeoutReturnsUnavailableWithinDeadline) {
  TcpServer server(Loopback(), Echo, Mode::kHang);
  HttpClient client = HttpClient::Tcp("127.0.0.1", server.endpoint().port());
  auto start = std::chrono::steady_clock::now();
  Result<HttpClientResponse> r = client.Get("/slow", std::chrono::milliseconds(200));
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("timed out"), std::string::npos) << r.status().ToString();
  EXPECT_GE(elapsed, std::chrono::milliseconds(190));
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

TEST(HttpClientTest, UnixSocketTimeout) {
  testing::TempDir dir;
  std::string path = dir.path() + "/hang.sock";
  UnixServer server(asio::local::stream_protocol::endpoint(path), Echo, Mode::kHang);
  auto start = std::chrono::steady_clock::now();
  Result<HttpClientResponse> r = HttpClient::Unix(path).Get("/", std::chrono::milliseconds(150));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
}

TEST(HttpClientTest, ConnectionRefusedIsUnavailable) {
  uint16_t port = 0;
  {
    asio::io_context ioc;
    asio::ip::tcp::acceptor a(ioc, Loopback());
    port = a.local_endpoint().port();
  }  // closed: nothing listens on `port` now
  Result<HttpClientResponse> r = HttpClient::Tcp("127.0.0.1", port).Get("/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("connecting"), std::string::npos) << r.status().ToString();
}

TEST(HttpClientTest, MissingUnixSocketIsUnavailable) {
  testing::TempDir dir;
  auto start = std::chrono::steady_clock::now();
  Result<HttpClientResponse> r = HttpClient::Unix(dir.path() + "/absent.sock").Get("/_ping");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
}

TEST(HttpClientTest, OverlongSocketPathIsAnErrorNotAnException) {
  Result<HttpClientResponse> r = HttpClient::Unix("/" + std::string(300, 'a')).Get("/");
  ASSERT_FALSE(r.ok());
}

TEST(HttpClientTest, ServerClosingWithoutResponseIsIoError) {
  TcpServer server(Loopback(), Echo, Mode::kCloseWithoutResponse);
  Result<HttpClientResponse> r = HttpClient::Tcp("127.0.0.1", server.endpoint().port()).Get("/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError) << r.status().ToString();
}

TEST(HttpClientTest, OversizedBodyIsResourceExhausted) {
  TcpServer server(Loopback(),
                   [](const Request&, Response* res) { res->body() = std::string(4096, 'y'); });
  HttpClientOptions opts;
  opts.max_body_bytes = 1024;
  Result<HttpClientResponse> r =
      HttpClient::Tcp("127.0.0.1", server.endpoint().port(), opts).Get("/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().ToString();
}

TEST(HttpClientTest, OversizedChunkedBodyIsResourceExhausted) {
  TcpServer server(Loopback(), [](const Request&, Response* res) {
    res->body() = std::string(4096, 'y');
    res->chunked(true);
  });
  HttpClientOptions opts;
  opts.max_body_bytes = 1024;
  Result<HttpClientResponse> r =
      HttpClient::Tcp("127.0.0.1", server.endpoint().port(), opts).Get("/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().ToString();
}

TEST(HttpClientTest, OversizedBodyEndingAtCloseIsResourceExhausted) {
  // No Content-Length, not chunked: the body ends when the server closes (a scrape target that
  // streams). The client must stop at max_body_bytes, not read until the timeout.
  asio::io_context ioc;
  asio::ip::tcp::acceptor acceptor(ioc, Loopback());
  const uint16_t port = acceptor.local_endpoint().port();
  std::thread server([&] {
    asio::ip::tcp::socket sock(ioc);
    beast::error_code ec;
    acceptor.accept(sock, ec);
    if (ec) return;
    beast::flat_buffer buf;
    Request req;
    http::read(sock, buf, req, ec);
    std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n";
    asio::write(sock, asio::buffer(head), ec);
    const std::string block(1024, 'y');
    for (int i = 0; i < 64 && !ec; ++i) asio::write(sock, asio::buffer(block), ec);
    sock.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  });
  HttpClientOptions opts;
  opts.max_body_bytes = 4096;
  Result<HttpClientResponse> r = HttpClient::Tcp("127.0.0.1", port, opts).Get("/");
  server.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().ToString();
}

TEST(HttpClientTest, SequentialRequestsUseFreshConnections) {
  TcpServer server(Loopback(), Echo);
  HttpClient client = HttpClient::Tcp("127.0.0.1", server.endpoint().port());
  for (int i = 0; i < 5; ++i) {
    Result<HttpClientResponse> r = client.Get("/n");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  EXPECT_EQ(server.requests(), 5);
}

// HTTPS against a local TLS server with a throwaway CA made by the openssl CLI.
class HttpClientTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err = testing::MakeTestPki(dir_.path(), &pki_);
    ASSERT_EQ(err, "");
  }
  static void Hello(const HttpRequest& req, HttpResponse* res) {
    res->body = "hello " + req.method + " " + req.target;
    res->headers.emplace_back("X-Auth", std::string(req.Header("Authorization")));
  }
  testing::TempDir dir_;
  testing::TestPki pki_;
};

TEST_F(HttpClientTlsTest, VerifiedServerAnswers) {
  testing::TlsTestServer server(pki_.server_crt(), pki_.server_key(), Hello);
  HttpTlsOptions tls;
  tls.ca_file = pki_.ca_crt();
  Result<HttpClient> client = HttpClient::Https("localhost", server.port(), tls);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ(client->Describe(), "https://localhost:" + std::to_string(server.port()));
  HttpClientRequest req;
  req.method = "PATCH";
  req.target = "/apis/apps/v1/x?y=1";
  req.headers = {{"Authorization", "Bearer t"}};
  req.body = "{}";
  Result<HttpClientResponse> r = client->Send(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello PATCH /apis/apps/v1/x?y=1");
  EXPECT_EQ(r->Header("X-Auth"), "Bearer t");
}

TEST_F(HttpClientTlsTest, CaDataAndIpLiteralServerName) {
  testing::TlsTestServer server(pki_.server_crt(), pki_.server_key(), Hello);
  Result<std::string> ca = ReadFile(pki_.ca_crt());
  ASSERT_TRUE(ca.ok());
  HttpTlsOptions tls;
  tls.ca_pem = *ca;
  Result<HttpClient> client = HttpClient::Https("127.0.0.1", server.port(), tls);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Result<HttpClientResponse> r = client->Get("/ip");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "hello GET /ip");
}

TEST_F(HttpClientTlsTest, WrongCaIsRejectedWithAClearError) {
  testing::TlsTestServer server(pki_.server_crt(), pki_.server_key(), Hello);
  HttpTlsOptions tls;
  tls.ca_file = pki_.other_ca_crt();
  Result<HttpClient> client = HttpClient::Https("localhost", server.port(), tls);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Result<HttpClientResponse> r = client->Get("/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("TLS handshake: certificate verify failed"),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("not signed by a trusted CA"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(HttpClientTlsTest, HostnameMismatchIsRejected) {
  testing::TlsTestServer server(pki_.server_crt(), pki_.server_key(), Hello);
  HttpTlsOptions tls;
  tls.ca_file = pki_.ca_crt();
  tls.server_name = "api.example.com";
  Result<HttpClient> client = HttpClient::Https("127.0.0.1", server.port(), tls);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Result<HttpClientResponse> r = client->Get("/");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("hostname mismatch"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("\"api.example.com\""), std::string::npos)
      << r.status().message();
  // An IP the certificate does not list fails the same way.
  tls.server_name = "10.0.0.1";
  client = HttpClient::Https("127.0.0.1", server.port(), tls);
  ASSERT_TRUE(client.ok());
  r = client->Get("/");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("IP address mismatch"), std::string::npos)
      << r.status().message();
}

TEST_F(HttpClientTlsTest, InsecureSkipVerifyAcceptsAnyCertificate) {
  testing::TlsTestServer server(pki_.server_crt(), pki_.server_key(), Hello);
  HttpTlsOptions tls;
  tls.ca_file = pki_.other_ca_crt();
  tls.server_name = "wrong.example.com";
  tls.insecure_skip_verify = true;
  Result<HttpClient> client = HttpClient::Https("127.0.0.1", server.port(), tls);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Result<HttpClientResponse> r = client->Get("/x");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "hello GET /x");
}

TEST_F(HttpClientTlsTest, ClientCertificateForMutualTls) {
  testing::TlsTestServer server(pki_.server_crt(), pki_.server_key(), Hello, pki_.ca_crt());
  HttpTlsOptions tls;
  tls.ca_file = pki_.ca_crt();
  Result<HttpClient> anonymous = HttpClient::Https("localhost", server.port(), tls);
  ASSERT_TRUE(anonymous.ok());
  Result<HttpClientResponse> r = anonymous->Get("/");
  EXPECT_FALSE(r.ok()) << "a server requiring a client certificate answered without one";

  Result<std::string> key = ReadFile(pki_.client_key());
  ASSERT_TRUE(key.ok());
  tls.cert_file = pki_.client_crt();
  tls.key_pem = *key;
  Result<HttpClient> client = HttpClient::Https("localhost", server.port(), tls);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  r = client->Get("/mtls");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "hello GET /mtls");
}

TEST_F(HttpClientTlsTest, BadTlsConfigurationFailsAtCreation) {
  HttpTlsOptions tls;
  tls.ca_file = dir_.path() + "/absent.crt";
  Result<HttpClient> c = HttpClient::Https("localhost", 443, tls);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("absent.crt"), std::string::npos) << c.status().message();

  tls = {};
  tls.ca_pem = "not a certificate";
  c = HttpClient::Https("localhost", 443, tls);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("no PEM certificate"), std::string::npos)
      << c.status().message();

  tls = {};
  tls.cert_file = pki_.client_crt();
  c = HttpClient::Https("localhost", 443, tls);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("without its key"), std::string::npos)
      << c.status().message();

  tls.key_file = pki_.server_key();  // Not the client certificate's key.
  c = HttpClient::Https("localhost", 443, tls);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("does not match"), std::string::npos) << c.status().message();
}

}  // namespace
}  // namespace tidemark

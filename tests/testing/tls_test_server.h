// TLS test helpers (header-only, so any test binary can use them): a throwaway PKI made with the
// openssl CLI, and a small blocking HTTPS server that answers each request with an HttpHandler.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <string>
#include <thread>
#include <utility>

#include "common/http_server.h"

namespace tidemark::testing {

// PEM files under `dir`: ca.crt/ca.key (signs the rest), other-ca.crt (an unrelated CA),
// server.crt/server.key (CN localhost, SANs DNS:localhost and IP:127.0.0.1),
// client.crt/client.key (CN tidemark-client, clientAuth).
struct TestPki {
  std::string dir;
  std::string ca_crt() const { return dir + "/ca.crt"; }
  std::string other_ca_crt() const { return dir + "/other-ca.crt"; }
  std::string server_crt() const { return dir + "/server.crt"; }
  std::string server_key() const { return dir + "/server.key"; }
  std::string client_crt() const { return dir + "/client.crt"; }
  std::string client_key() const { return dir + "/client.key"; }
};

// Creates the PKI in `dir` (must exist). "" on success, else what failed.
inline std::string MakeTestPki(const std::string& dir, TestPki* out) {
  out->dir = dir;
  const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  std::string script =
      "set -e; cd '" + dir + "'; exec 2>openssl.log\n" + "openssl req -x509 " + key +
      " -keyout ca.key -out ca.crt -days 2 -subj /CN=tidemark-ca\n" + "openssl req -x509 " + key +
      " -keyout other-ca.key -out other-ca.crt -days 2 -subj /CN=other-ca\n" + "openssl req " +
      key + " -keyout server.key -out server.csr -subj /CN=localhost\n" +
      "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' >server.ext\n" +
      "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
      "-extfile server.ext -out server.crt\n" +
      "openssl req " + key + " -keyout client.key -out client.csr -subj /CN=tidemark-client\n" +
      "printf 'extendedKeyUsage=clientAuth\\n' >client.ext\n" +
      "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
      "-extfile client.ext -out client.crt\n";
  // Pass the script on stdin so no quoting of its content is needed.
  FILE* sh = popen("bash -s", "w");
  if (sh == nullptr) return "popen(bash) failed";
  fwrite(script.data(), 1, script.size(), sh);
  int rc = pclose(sh);
  if (rc != 0)
    return "openssl failed (see " + dir + "/openssl.log), exit status " + std::to_string(rc);
  return "";
}

// Serves `handler` over TLS on 127.0.0.1:<port()>, one request per connection, on its own thread.
// With `client_ca` set, clients must present a certificate signed by it. Connections whose
// handshake fails (e.g. the client rejected our certificate) are counted in failed_handshakes().
class TlsTestServer {
 public:
  TlsTestServer(const std::string& cert_file, const std::string& key_file, HttpHandler handler,
                const std::string& client_ca = "")
      : ctx_(boost::asio::ssl::context::tls_server),
        acceptor_(ioc_,
                  boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)),
        handler_(std::move(handler)) {
    ctx_.use_certificate_chain_file(cert_file);
    ctx_.use_private_key_file(key_file, boost::asio::ssl::context::pem);
    if (!client_ca.empty()) {
      ctx_.load_verify_file(client_ca);
      ctx_.set_verify_mode(boost::asio::ssl::verify_peer |
                           boost::asio::ssl::verify_fail_if_no_peer_cert);
    }
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Loop(); });
  }
  ~TlsTestServer() {
    stop_ = true;
    try {
      boost::asio::io_context wake_ioc;
      boost::asio::ip::tcp::socket wake(wake_ioc);
      wake.connect(acceptor_.local_endpoint());
    } catch (...) {
    }
    thread_.join();
  }
  uint16_t port() const { return port_; }
  int failed_handshakes() const { return failed_handshakes_; }
  int requests() const { return requests_; }

 private:
  void Loop() {
    namespace http = boost::beast::http;
    while (!stop_) {
      boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream(ioc_, ctx_);
      boost::beast::error_code ec;
      acceptor_.accept(stream.next_layer(), ec);
      if (ec || stop_) break;
      stream.handshake(boost::asio::ssl::stream_base::server, ec);
      if (ec) {
        ++failed_handshakes_;
        continue;
      }
      boost::beast::flat_buffer buf;
      http::request<http::string_body> req;
      http::read(stream, buf, req, ec);
      if (ec) continue;
      ++requests_;
      HttpRequest in;
      in.method = std::string(req.method_string());
      in.target = std::string(req.target());
      size_t q = in.target.find('?');
      in.path = in.target.substr(0, q);
      if (q != std::string::npos) {
        auto parsed = ParseQueryString(std::string_view(in.target).substr(q + 1));
        if (parsed.ok()) in.query = std::move(*parsed);
      }
      for (const auto& f : req.base()) {
        in.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      }
      in.body = req.body();
      HttpResponse out;
      handler_(in, &out);
      http::response<http::string_body> res{static_cast<http::status>(out.status), 11};
      res.set(http::field::content_type, out.content_type);
      for (const auto& [k, v] : out.headers) res.set(k, v);
      res.body() = out.body;
      res.prepare_payload();
      http::write(stream, res, ec);
      stream.shutdown(ec);
    }
  }

  boost::asio::io_context ioc_;
  boost::asio::ssl::context ctx_;
  boost::asio::ip::tcp::acceptor acceptor_;
  HttpHandler handler_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> failed_handshakes_{0};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

}  // namespace tidemark::testing

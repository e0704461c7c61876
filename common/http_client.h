// A small synchronous HTTP/1.1 client (Boost.Beast inside, not in this header) over TCP, TLS
// (OpenSSL) or a unix domain socket. One connection per request ("Connection: close"); no
// redirects, no chunked request bodies. For the Docker Engine API, Kubernetes/Swarm/Alertmanager.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace tidemark {

using HttpHeaderList = std::vector<std::pair<std::string, std::string>>;

// Named apart from HttpRequest/HttpResponse in common/http_server.h (the server's side).
struct HttpClientRequest {
  std::string method = "GET";  // Default: GET
  std::string target = "/";    // Origin-form, e.g. "/containers/json?all=0". Default: /
  HttpHeaderList headers;      // Host, Connection and Content-Length are set by the client.
  std::string body;            // Sent with Content-Length when non-empty (or method is POST/PUT).
  // Deadline for the whole exchange (resolve, connect, write, read). Default: 10 s.
  std::chrono::milliseconds timeout{10000};
};

struct HttpClientResponse {
  int status = 0;  // e.g. 200
  HttpHeaderList headers;
  std::string body;  // Decoded from chunked transfer encoding when the server used it.

  // Case-insensitive lookup of the first header named `name`; "" when absent.
  std::string_view Header(std::string_view name) const;
};

struct HttpClientOptions {
  // Connect must finish within min(connect_timeout, request timeout). Default: 2 s.
  std::chrono::milliseconds connect_timeout{2000};
  // Responses with a larger body fail with ResourceExhausted. Default: 64 MiB.
  size_t max_body_bytes = 64u << 20;
  // Host header. Default: "" = "<host>:<port>" for TCP, "localhost" for unix sockets.
  std::string host_header;
};

// TLS settings for HttpClient::Https, all PEM. Data (`*_pem`) wins over the file of the same role.
struct HttpTlsOptions {
  std::string ca_file;    // CAs the server's chain must lead to. Default: "" = the system's CAs
  std::string ca_pem;     // (unless ca_pem is set).
  std::string cert_file;  // Client certificate (chain) for mutual TLS. Default: none.
  std::string cert_pem;
  std::string key_file;  // Its private key; required with a client certificate.
  std::string key_pem;
  // Sent as SNI (unless an IP literal) and checked against the certificate's DNS/IP names.
  // Default: "" = the host passed to Https().
  std::string server_name;
  // Accept any certificate and name (kubeconfig insecure-skip-tls-verify). Default: false.
  bool insecure_skip_verify = false;
};

// Holds only the address and options; each Send opens and closes its own connection, so one
// instance may be used from several threads at once. Never throws: errors come back as Status —
// Unavailable for resolve/connect failures and timeouts, ResourceExhausted for oversized
// responses, IoError for everything else (reset, malformed response, ...). A failed TLS handshake
// (untrusted certificate, name mismatch, protocol error) is Unavailable, naming the reason.
class HttpClient {
 public:
  // `host` is a name or IP literal (resolved on every request), `port` a TCP port.
  static HttpClient Tcp(std::string host, uint16_t port, HttpClientOptions options = {});
  // `socket_path` of a unix stream socket, e.g. /var/run/docker.sock.
  static HttpClient Unix(std::string socket_path, HttpClientOptions options = {});
  // HTTPS to `host`:`port`. Loads the certificates and key once, here: InvalidArgument naming the
  // file or field when one is missing, unreadable, not PEM, or the key does not match the cert.
  static Result<HttpClient> Https(std::string host, uint16_t port, const HttpTlsOptions& tls,
                                  HttpClientOptions options = {});

  // Any HTTP status is a successful Result; check response.status.
  Result<HttpClientResponse> Send(const HttpClientRequest& request) const;
  // GET `target` with the given timeout.
  Result<HttpClientResponse> Get(
      std::string_view target, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  // "tcp://host:port", "https://host:port" or "unix:///path", for messages.
  std::string Describe() const;

 private:
  class TlsContext;
  HttpClient(bool unix_socket, std::string host_or_path, uint16_t port, HttpClientOptions options,
             std::shared_ptr<TlsContext> tls = nullptr)
      : unix_(unix_socket),
        address_(std::move(host_or_path)),
        port_(port),
        options_(std::move(options)),
        tls_(std::move(tls)) {}

  bool unix_;
  std::string address_;  // host (TCP) or socket path (unix)
  uint16_t port_;
  HttpClientOptions options_;
  std::shared_ptr<TlsContext> tls_;  // Set for HTTPS; immutable after Https(), shared by copies.
};

}  // namespace tidemark

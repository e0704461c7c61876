// A small synchronous HTTP/1.1 client (Boost.Beast inside, not in this header) over TCP or a unix
// domain socket. One connection per request ("Connection: close"); no TLS, no redirects, no
// chunked request bodies. For the Docker Engine API, Kubernetes/Swarm/Alertmanager clients.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
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

// Holds only the address and options; each Send opens and closes its own connection, so one
// instance may be used from several threads at once. Never throws: errors come back as Status —
// Unavailable for resolve/connect failures and timeouts, ResourceExhausted for oversized
// responses, IoError for everything else (reset, malformed response, ...).
class HttpClient {
 public:
  // `host` is a name or IP literal (resolved on every request), `port` a TCP port.
  static HttpClient Tcp(std::string host, uint16_t port, HttpClientOptions options = {});
  // `socket_path` of a unix stream socket, e.g. /var/run/docker.sock.
  static HttpClient Unix(std::string socket_path, HttpClientOptions options = {});

  // Any HTTP status is a successful Result; check response.status.
  Result<HttpClientResponse> Send(const HttpClientRequest& request) const;
  // GET `target` with the given timeout.
  Result<HttpClientResponse> Get(
      std::string_view target, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  // "tcp://host:port" or "unix:///path", for messages.
  std::string Describe() const;

 private:
  HttpClient(bool unix_socket, std::string host_or_path, uint16_t port, HttpClientOptions options)
      : unix_(unix_socket),
        address_(std::move(host_or_path)),
        port_(port),
        options_(std::move(options)) {}

  bool unix_;
  std::string address_;  // host (TCP) or socket path (unix)
  uint16_t port_;
  HttpClientOptions options_;
};

}  // namespace tidemark

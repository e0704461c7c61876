// A small HTTP/1.1 server on Boost.Beast: keep-alive, bounded request size and connection count.
// Plain handlers run on the io_context thread and must not block for long; an asynchronous handler
// may hand a slow request to another thread and complete it from there.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace boost::asio {
class io_context;
}

namespace tidemark {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // Raw request target, e.g. "/api/v1/query?query=up"
  std::string path;    // Target up to '?', percent-decoded
  // Decoded, in order, repeats kept; a form-encoded POST body's pairs come first (as Go's
  // Request.Form has them), then the URL's.
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // Case-insensitive header lookup; "" when absent.
  std::string_view Header(std::string_view name) const;
  // First value of a query parameter; "" when absent.
  std::string_view Param(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

using HttpHandler = std::function<void(const HttpRequest&, HttpResponse*)>;
// Completes one request: call it exactly once (later calls are ignored), from any thread. Dropping
// it uncalled closes the connection.
using HttpRespond = std::function<void(HttpResponse)>;
// Receives the request by value (it may outlive the call) and answers through `respond`, possibly
// after returning. Runs on the io_context thread.
using HttpAsyncHandler = std::function<void(HttpRequest, HttpRespond)>;

struct HttpServerOptions {
  size_t max_connections = 256;             // Default: 256; further connections are closed.
  size_t max_header_bytes = 16 * 1024;      // Default: 16 KiB
  size_t max_body_bytes = 8 * 1024 * 1024;  // Default: 8 MiB (remote_write batches)
  std::chrono::seconds idle_timeout{60};    // Default: 60 s per read/write
};

// Parses "host:port", "[v6]:port" or ":port" into host and port; InvalidArgument otherwise.
Result<std::pair<std::string, uint16_t>> ParseListenAddress(std::string_view addr);
// application/x-www-form-urlencoded → pairs ('+' is a space, %XX decoded). InvalidArgument on bad
// %.
Result<std::vector<std::pair<std::string, std::string>>> ParseQueryString(std::string_view qs);

class HttpServer {
 public:
  // Binds and starts accepting on `io`. Fails with InvalidArgument/Unavailable (address in use,
  // permission, unresolvable host) before anything is served. The io_context must outlive the
  // server; call Stop() (on any thread) before destroying either.
  static Result<std::unique_ptr<HttpServer>> Create(boost::asio::io_context& io,
                                                    std::string_view listen, HttpHandler handler,
                                                    HttpServerOptions options = {});
  // The same with a handler that may respond later from another thread, so a slow request does
  // not hold up the others.
  static Result<std::unique_ptr<HttpServer>> CreateAsync(boost::asio::io_context& io,
                                                         std::string_view listen,
                                                         HttpAsyncHandler handler,
                                                         HttpServerOptions options = {});
  ~HttpServer();
  // The bound port (useful with ":0").
  uint16_t port() const;
  // Stops accepting and closes open connections. Thread-safe; idempotent.
  void Stop();

  class State;

 private:
  explicit HttpServer(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace tidemark

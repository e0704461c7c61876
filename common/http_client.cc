#include "common/http_client.h"

#include <strings.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <exception>
#include <functional>
#include <limits>

namespace tidemark {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using SteadyClock = std::chrono::steady_clock;

namespace {

enum class Stage { kResolve, kConnect, kWrite, kRead };

const char* StageName(Stage s) {
  switch (s) {
    case Stage::kResolve:
      return "resolving";
    case Stage::kConnect:
      return "connecting";
    case Stage::kWrite:
      return "sending the request";
    case Stage::kRead:
      return "reading the response";
  }
  return "?";
}

http::request<http::string_body> BuildRequest(const HttpClientRequest& r, const std::string& host) {
  http::request<http::string_body> req;
  req.version(11);
  http::verb verb = http::string_to_verb(r.method);
  if (verb == http::verb::unknown) {
    req.method_string(r.method);
  } else {
    req.method(verb);
  }
  req.target(r.target);
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "tidemark");
  req.set(http::field::connection, "close");
  for (const auto& [name, value] : r.headers) req.set(name, value);
  req.body() = r.body;
  if (!r.body.empty() || verb == http::verb::post || verb == http::verb::put ||
      verb == http::verb::patch) {
    req.prepare_payload();
  }
  return req;
}

// Runs one request on `sock` once `start_connect(on_connected)` has begun connecting. Every
// handler runs on this thread inside ioc.run(); one timer enforces the connect and total deadlines
// by closing the socket (and cancelling the resolver).
template <class Socket>
Result<HttpClientResponse> Exchange(
    asio::io_context& ioc, Socket& sock, asio::ip::tcp::resolver* resolver,
    const std::function<void(std::function<void(const beast::error_code&)>)>& start_connect,
    Stage* stage_ptr, http::request<http::string_body>& req, const HttpClientRequest& request,
    const HttpClientOptions& options, const std::string& where) {
  const SteadyClock::time_point start = SteadyClock::now();
  const SteadyClock::time_point deadline = start + request.timeout;
  const SteadyClock::time_point connect_deadline =
      std::min(deadline, start + options.connect_timeout);

  Stage& stage = *stage_ptr;
  beast::error_code err;
  bool timed_out = false;
  asio::steady_timer timer(ioc);
  http::response_parser<http::string_body> parser;
  // Boost 1.74's parser::body_limit() did not reject an oversized Content-Length here (measured),
  // so the limit is checked by hand: Content-Length after the header, chunk sizes as they arrive.
  // A body delimited only by connection close is not limited.
  parser.body_limit(std::numeric_limits<uint64_t>::max());
  uint64_t chunked_bytes = 0;
  auto on_chunk_header = [&](uint64_t size, boost::string_view, beast::error_code& ec) {
    chunked_bytes += size;
    if (chunked_bytes > options.max_body_bytes) ec = http::error::body_limit;
  };
  parser.on_chunk_header(on_chunk_header);
  beast::flat_buffer buffer;

  std::function<void(const beast::error_code&)> on_timer = [&](const beast::error_code& ec) {
    if (ec || timer.expiry() > SteadyClock::now()) return;  // cancelled or re-armed
    timed_out = true;
    if (resolver != nullptr) resolver->cancel();
    beast::error_code ignored;
    sock.close(ignored);
  };
  auto on_read = [&](const beast::error_code& ec, size_t) {
    err = ec;
    timer.cancel();
  };
  auto on_header = [&](const beast::error_code& ec, size_t) {
    if (!ec) {
      boost::optional<uint64_t> length = parser.content_length();
      if (length && *length > options.max_body_bytes) {
        err = http::error::body_limit;
        timer.cancel();
        return;
      }
      http::async_read(sock, buffer, parser, on_read);
      return;
    }
    err = ec;
    timer.cancel();
  };
  auto on_write = [&](const beast::error_code& ec, size_t) {
    if (ec) {
      err = ec;
      timer.cancel();
      return;
    }
    stage = Stage::kRead;
    http::async_read_header(sock, buffer, parser, on_header);
  };
  auto on_connected = [&](const beast::error_code& ec) {
    if (ec) {
      err = ec;
      timer.cancel();
      return;
    }
    stage = Stage::kWrite;
    timer.expires_at(deadline);
    timer.async_wait(on_timer);
    http::async_write(sock, req, on_write);
  };

  timer.expires_at(connect_deadline);
  timer.async_wait(on_timer);
  start_connect(on_connected);
  ioc.run();

  auto elapsed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start);
  std::string what = where + " " + request.method + " " + request.target;
  if (timed_out) {
    return Status::Unavailable(what + ": timed out after " + std::to_string(elapsed_ms.count()) +
                               " ms " + StageName(stage));
  }
  if (err) {
    std::string msg = what + ": " + StageName(stage) + ": " + err.message();
    if (stage == Stage::kResolve || stage == Stage::kConnect) return Status::Unavailable(msg);
    if (err == http::error::body_limit) return Status::ResourceExhausted(msg);
    return Status::IoError(msg);
  }
  http::response<http::string_body> res = parser.release();
  HttpClientResponse out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& field : res.base()) {
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  out.body = std::move(res.body());
  beast::error_code ignored;
  sock.close(ignored);
  return out;
}

}  // namespace

std::string_view HttpClientResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return {};
}

HttpClient HttpClient::Tcp(std::string host, uint16_t port, HttpClientOptions options) {
  return HttpClient(false, std::move(host), port, std::move(options));
}

HttpClient HttpClient::Unix(std::string socket_path, HttpClientOptions options) {
  return HttpClient(true, std::move(socket_path), 0, std::move(options));
}

std::string HttpClient::Describe() const {
  if (unix_) return "unix://" + address_;
  return "tcp://" + address_ + ":" + std::to_string(port_);
}

Result<HttpClientResponse> HttpClient::Get(std::string_view target,
                                           std::chrono::milliseconds timeout) const {
  HttpClientRequest r;
  r.target = std::string(target);
  r.timeout = timeout;
  return Send(r);
}

Result<HttpClientResponse> HttpClient::Send(const HttpClientRequest& request) const {
  try {
    std::string host = options_.host_header;
    if (host.empty()) host = unix_ ? "localhost" : address_ + ":" + std::to_string(port_);
    http::request<http::string_body> req = BuildRequest(request, host);
    asio::io_context ioc(1);
    Stage stage = unix_ ? Stage::kConnect : Stage::kResolve;
    if (unix_) {
      asio::local::stream_protocol::socket sock(ioc);
      asio::local::stream_protocol::endpoint ep(address_);
      return Exchange(
          ioc, sock, nullptr,
          [&](std::function<void(const beast::error_code&)> done) {
            sock.async_connect(ep, std::move(done));
          },
          &stage, req, request, options_, Describe());
    }
    asio::ip::tcp::socket sock(ioc);
    asio::ip::tcp::resolver resolver(ioc);
    std::string port = std::to_string(port_);
    return Exchange(
        ioc, sock, &resolver,
        [&](std::function<void(const beast::error_code&)> done) {
          resolver.async_resolve(
              address_, port,
              [&sock, &stage, done](const beast::error_code& ec,
                                    const asio::ip::tcp::resolver::results_type& results) {
                if (ec) {
                  done(ec);
                  return;
                }
                stage = Stage::kConnect;
                asio::async_connect(sock, results,
                                    [done](const beast::error_code& cec,
                                           const asio::ip::tcp::endpoint&) { done(cec); });
              });
        },
        &stage, req, request, options_, Describe());
  } catch (const std::exception& e) {
    return Status::IoError(Describe() + " " + request.method + " " + request.target + ": " +
                           e.what());
  } catch (...) {
    return Status::IoError(Describe() + " " + request.method + " " + request.target +
                           ": unknown exception");
  }
}

}  // namespace tidemark

#include "common/http_server.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <mutex>
#include <optional>
#include <set>

#include "common/strings.h"

namespace tidemark {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) {
        return Status::InvalidArgument("truncated percent escape in \"" + std::string(s) + "\"");
      }
      int hi = HexValue(s[i + 1]);
      int lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) {
        return Status::InvalidArgument("invalid percent escape in \"" + std::string(s) + "\"");
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return {};
}

std::string_view HttpRequest::Param(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return v;
  }
  return {};
}

Result<std::pair<std::string, uint16_t>> ParseListenAddress(std::string_view addr) {
  size_t colon = addr.rfind(':');
  if (colon == std::string_view::npos) {
    return Status::InvalidArgument("listen address \"" + std::string(addr) +
                                   "\" must be HOST:PORT");
  }
  std::string_view host = addr.substr(0, colon);
  std::string_view port_s = addr.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_s.data(), port_s.data() + port_s.size(), port);
  if (ec != std::errc() || p != port_s.data() + port_s.size() || port > 65535 || port_s.empty()) {
    return Status::InvalidArgument("listen address \"" + std::string(addr) +
                                   "\": port must be a number from 0 to 65535");
  }
  return std::make_pair(std::string(host.empty() ? "0.0.0.0" : host), static_cast<uint16_t>(port));
}

Result<std::vector<std::pair<std::string, std::string>>> ParseQueryString(std::string_view qs) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!qs.empty()) {
    size_t amp = qs.find('&');
    std::string_view part = qs.substr(0, amp);
    qs = amp == std::string_view::npos ? std::string_view() : qs.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    auto key = PercentDecode(part.substr(0, eq), true);
    if (!key.ok()) return key.status();
    std::string value;
    if (eq != std::string_view::npos) {
      auto v = PercentDecode(part.substr(eq + 1), true);
      if (!v.ok()) return v.status();
      value = std::move(*v);
    }
    out.emplace_back(std::move(*key), std::move(value));
  }
  return out;
}

class HttpServer::State : public std::enable_shared_from_this<HttpServer::State> {
 public:
  State(asio::io_context& io, HttpAsyncHandler handler, HttpServerOptions options)
      : io_(io), acceptor_(io), handler_(std::move(handler)), options_(options) {}

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  HttpAsyncHandler handler_;
  HttpServerOptions options_;
  std::atomic<bool> stopped_{false};
  std::mutex mu_;
  std::set<std::shared_ptr<beast::tcp_stream>> conns_;  // Guarded by mu_.

  void Accept();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<HttpServer::State> server, tcp::socket socket)
      : server_(std::move(server)),
        stream_(std::make_shared<beast::tcp_stream>(std::move(socket))) {}

  void Start() {
    {
      std::lock_guard<std::mutex> lock(server_->mu_);
      server_->conns_.insert(stream_);
    }
    Read();
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_->options_.max_header_bytes));
    parser_->body_limit(server_->options_.max_body_bytes);
    stream_->expires_after(server_->options_.idle_timeout);
    http::async_read(
        *stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec) {
      if (ec == http::error::header_limit || ec == http::error::body_limit ||
          ec == http::error::bad_target || ec == http::error::bad_method ||
          ec == http::error::bad_version || ec == http::error::bad_field) {
        HttpResponse resp;
        resp.status = (ec == http::error::body_limit) ? 413 : 400;
        resp.body = "bad request: " + ec.message() + "\n";
        Write(resp, 11, false);
        return;
      }
      Close();
      return;
    }
    const auto& msg = parser_->get();
    const unsigned version = msg.version();
    const bool keep_alive = msg.keep_alive();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    for (const auto& f : msg) {
      req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    req.body = std::move(parser_->get().body());  // Not copied: bodies can be MiBs.
    HttpResponse resp;
    std::string_view target = req.target;
    size_t q = target.find('?');
    auto path = PercentDecode(target.substr(0, q), false);
    Result<std::vector<std::pair<std::string, std::string>>> query =
        std::vector<std::pair<std::string, std::string>>{};
    if (q != std::string_view::npos) query = ParseQueryString(target.substr(q + 1));
    if (!path.ok() || !query.ok()) {
      resp.status = 400;
      resp.body = (path.ok() ? query.status() : path.status()).message() + "\n";
      Write(resp, version, keep_alive);
      return;
    }
    req.path = std::move(*path);
    req.query = std::move(*query);
    // A form-encoded POST carries its parameters in the body (Prometheus API style); like Go's
    // Request.Form, they come before the URL's.
    if (req.method == "POST" &&
        req.Header("Content-Type").starts_with("application/x-www-form-urlencoded")) {
      auto form = ParseQueryString(req.body);
      if (form.ok()) {
        form->insert(form->end(), std::make_move_iterator(req.query.begin()),
                     std::make_move_iterator(req.query.end()));
        req.query = std::move(*form);
      }
    }
    // The response may come from another thread; the write goes back through the connection's
    // strand. The flag makes later calls no-ops.
    auto answered = std::make_shared<std::atomic<bool>>(false);
    HttpRespond respond = [self = shared_from_this(), answered, version,
                           keep_alive](HttpResponse r) {
      if (answered->exchange(true)) return;
      asio::dispatch(self->stream_->get_executor(), [self, r = std::move(r), version, keep_alive] {
        self->Write(r, version, keep_alive);
      });
    };
    std::string p = req.path;
    try {
      server_->handler_(std::move(req), respond);
    } catch (const std::exception& e) {
      spdlog::error("http handler for {} threw: {}", p, e.what());
      resp.status = 500;
      resp.body = "internal error\n";
      respond(std::move(resp));
    }
  }

  void Write(const HttpResponse& resp, unsigned version, bool keep_alive) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(resp.status), version);
    res->set(http::field::server, "tidemark");
    res->set(http::field::content_type, resp.content_type);
    for (const auto& [k, v] : resp.headers) res->set(k, v);
    res->keep_alive(keep_alive);
    res->body() = resp.body;
    res->prepare_payload();
    stream_->expires_after(server_->options_.idle_timeout);
    http::async_write(*stream_, *res,
                      [self = shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
                        if (ec || !keep_alive || self->server_->stopped_) {
                          self->Close();
                          return;
                        }
                        self->Read();
                      });
  }

  void Close() {
    beast::error_code ec;
    stream_->socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_->socket().close(ec);
    std::lock_guard<std::mutex> lock(server_->mu_);
    server_->conns_.erase(stream_);
  }

  std::shared_ptr<HttpServer::State> server_;
  std::shared_ptr<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

void HttpServer::State::Accept() {
  acceptor_.async_accept(asio::make_strand(io_),
                         [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                           if (self->stopped_) return;
                           if (!ec) {
                             size_t open;
                             {
                               std::lock_guard<std::mutex> lock(self->mu_);
                               open = self->conns_.size();
                             }
                             if (open >= self->options_.max_connections) {
                               beast::error_code ignored;
                               socket.close(ignored);
                             } else {
                               std::make_shared<Session>(self, std::move(socket))->Start();
                             }
                           } else if (ec != asio::error::operation_aborted) {
                             spdlog::warn("http accept failed: {}", ec.message());
                           }
                           self->Accept();
                         });
}

Result<std::unique_ptr<HttpServer>> HttpServer::Create(asio::io_context& io,
                                                       std::string_view listen, HttpHandler handler,
                                                       HttpServerOptions options) {
  return CreateAsync(
      io, listen,
      [handler = std::move(handler)](HttpRequest req, HttpRespond respond) {
        HttpResponse resp;
        handler(req, &resp);
        respond(std::move(resp));
      },
      options);
}

Result<std::unique_ptr<HttpServer>> HttpServer::CreateAsync(asio::io_context& io,
                                                            std::string_view listen,
                                                            HttpAsyncHandler handler,
                                                            HttpServerOptions options) {
  auto hp = ParseListenAddress(listen);
  if (!hp.ok()) return hp.status();
  auto state = std::make_shared<State>(io, std::move(handler), options);
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(hp->first, std::to_string(hp->second),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return Status::InvalidArgument("listen address \"" + std::string(listen) +
                                   "\": cannot resolve host: " + ec.message());
  }
  tcp::endpoint ep = results.begin()->endpoint();
  state->acceptor_.open(ep.protocol(), ec);
  if (!ec) state->acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) state->acceptor_.bind(ep, ec);
  if (!ec) state->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on " + std::string(listen) + ": " + ec.message());
  }
  state->Accept();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(state)));
}

HttpServer::~HttpServer() { Stop(); }

uint16_t HttpServer::port() const {
  beast::error_code ec;
  auto ep = state_->acceptor_.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void HttpServer::Stop() {
  if (state_->stopped_.exchange(true)) return;
  asio::post(state_->io_, [state = state_] {
    beast::error_code ec;
    state->acceptor_.close(ec);
    std::lock_guard<std::mutex> lock(state->mu_);
    for (const auto& c : state->conns_) {
      c->socket().shutdown(tcp::socket::shutdown_both, ec);
      c->socket().close(ec);
    }
    state->conns_.clear();
  });
}

}  // namespace tidemark

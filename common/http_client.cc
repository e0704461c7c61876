#include "common/http_client.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <strings.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http.hpp>
#include <exception>
#include <functional>
#include <limits>

#include "common/file_util.h"

namespace tidemark {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using SteadyClock = std::chrono::steady_clock;

namespace {

// The request target without its query for error messages: queries may carry secrets (robot
// webhooks' access_token/key).
std::string TargetForMessages(const std::string& target) {
  size_t q = target.find('?');
  return q == std::string::npos ? target : target.substr(0, q) + "?…";
}

enum class Stage { kResolve, kConnect, kHandshake, kWrite, kRead };

const char* StageName(Stage s) {
  switch (s) {
    case Stage::kResolve:
      return "resolving";
    case Stage::kConnect:
      return "connecting";
    case Stage::kHandshake:
      return "TLS handshake";
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
// by closing the socket (and cancelling the resolver). `explain` turns a connect-stage error into
// words (TLS verification details); null = the error's own message.
template <class Socket>
Result<HttpClientResponse> Exchange(
    asio::io_context& ioc, Socket& sock, asio::ip::tcp::resolver* resolver,
    const std::function<void(std::function<void(const beast::error_code&)>)>& start_connect,
    Stage* stage_ptr, http::request<http::string_body>& req, const HttpClientRequest& request,
    const HttpClientOptions& options, const std::string& where,
    const std::function<std::string(const beast::error_code&)>& explain = nullptr) {
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
  // so that and chunk sizes are also checked by hand; the parser's own limit catches a body
  // delimited only by connection close (a scrape target streaming without Content-Length).
  parser.body_limit(options.max_body_bytes);
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
    beast::get_lowest_layer(sock).close(ignored);
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
  std::string what = where + " " + request.method + " " + TargetForMessages(request.target);
  if (timed_out) {
    return Status::Unavailable(what + ": timed out after " + std::to_string(elapsed_ms.count()) +
                               " ms " + StageName(stage));
  }
  // A TLS peer closing without close_notify after a complete message is not an error.
  if (err == asio::ssl::error::stream_truncated && parser.is_done()) err = {};
  if (err) {
    std::string reason = explain && stage == Stage::kHandshake ? explain(err) : err.message();
    std::string msg = what + ": " + StageName(stage) + ": " + reason;
    if (stage == Stage::kResolve || stage == Stage::kConnect || stage == Stage::kHandshake) {
      return Status::Unavailable(msg);
    }
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
  beast::get_lowest_layer(sock).close(ignored);
  return out;
}

// The oldest queued OpenSSL error in words, "" when none; clears the queue.
std::string TakeOpenSslError() {
  unsigned long code = ERR_get_error();
  std::string out;
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    out = buf;
  }
  ERR_clear_error();
  return out;
}

bool IsIpLiteral(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// `pem` (named `what` in errors) → its certificates, added to the context's trust store.
Status AddCaCertificates(SSL_CTX* ctx, const std::string& pem, const std::string& what) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) return Status::Internal("out of memory reading " + what);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int added = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, cert);  // Fails only on duplicates, which are harmless.
    X509_free(cert);
    ++added;
  }
  ERR_clear_error();  // The loop ends on a "no start line" error.
  if (added == 0) return Status::InvalidArgument(what + ": no PEM certificate found");
  return Status::Ok();
}

// `data` when set, else the contents of `file` (""/"" → ""). InvalidArgument naming the file.
Result<std::string> PemOf(const std::string& data, const std::string& file,
                          const std::string& role) {
  if (!data.empty() || file.empty()) return data;
  Result<std::string> r = ReadFile(file);
  if (!r.ok()) {
    return Status::InvalidArgument("TLS " + role + " file " + file + ": " + r.status().message());
  }
  if (r->empty()) return Status::InvalidArgument("TLS " + role + " file " + file + " is empty");
  return r;
}

}  // namespace

class HttpClient::TlsContext {
 public:
  TlsContext() : ctx(asio::ssl::context::tls_client) {}
  asio::ssl::context ctx;
  std::string server_name;
  bool verify = true;
};

Result<HttpClient> HttpClient::Https(std::string host, uint16_t port, const HttpTlsOptions& tls,
                                     HttpClientOptions options) {
  try {
    auto state = std::make_shared<TlsContext>();
    SSL_CTX* ctx = state->ctx.native_handle();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    state->server_name = tls.server_name.empty() ? host : tls.server_name;
    state->verify = !tls.insecure_skip_verify;
    Result<std::string> ca = PemOf(tls.ca_pem, tls.ca_file, "CA");
    if (!ca.ok()) return ca.status();
    if (!ca->empty()) {
      TIDEMARK_RETURN_IF_ERROR(AddCaCertificates(
          ctx, *ca, tls.ca_pem.empty() ? "TLS CA file " + tls.ca_file : "TLS CA data"));
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      TakeOpenSslError();  // No system CAs: verification will fail with a clear reason instead.
    }
    Result<std::string> cert = PemOf(tls.cert_pem, tls.cert_file, "client certificate");
    if (!cert.ok()) return cert.status();
    Result<std::string> key = PemOf(tls.key_pem, tls.key_file, "client key");
    if (!key.ok()) return key.status();
    if (cert->empty() != key->empty()) {
      return Status::InvalidArgument(cert->empty()
                                         ? "TLS client key given without a client certificate"
                                         : "TLS client certificate given without its key");
    }
    if (!cert->empty()) {
      beast::error_code ec;
      state->ctx.use_certificate_chain(asio::buffer(*cert), ec);
      if (ec) {
        return Status::InvalidArgument("TLS client certificate " +
                                       (tls.cert_pem.empty() ? tls.cert_file : "data") +
                                       ": not a PEM certificate (" + ec.message() + ")");
      }
      state->ctx.use_private_key(asio::buffer(*key), asio::ssl::context::pem, ec);
      if (ec) {
        std::string which = tls.key_pem.empty() ? tls.key_file : "data";
        if (ec.message().find("mismatch") != std::string::npos) {
          return Status::InvalidArgument("TLS client key " + which +
                                         " does not match the client certificate");
        }
        return Status::InvalidArgument("TLS client key " + which + ": not a PEM private key (" +
                                       ec.message() + ")");
      }
      if (SSL_CTX_check_private_key(ctx) != 1) {
        return Status::InvalidArgument("TLS client key does not match the client certificate: " +
                                       TakeOpenSslError());
      }
    }
    state->ctx.set_verify_mode(state->verify ? asio::ssl::verify_peer : asio::ssl::verify_none);
    return HttpClient(false, std::move(host), port, std::move(options), std::move(state));
  } catch (const std::exception& e) {
    return Status::InvalidArgument("TLS setup for " + host + ": " + e.what());
  }
}

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
  return (tls_ ? "https://" : "tcp://") + address_ + ":" + std::to_string(port_);
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
    asio::ip::tcp::resolver resolver(ioc);
    std::string port = std::to_string(port_);
    // Resolves, then connects `sock`; `done` gets the first error or success.
    auto resolve_and_connect = [&](asio::ip::tcp::socket& sock,
                                   std::function<void(const beast::error_code&)> done) {
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
    };
    if (tls_) {
      asio::ssl::stream<asio::ip::tcp::socket> stream(ioc, tls_->ctx);
      SSL* ssl = stream.native_handle();
      const std::string& name = tls_->server_name;
      const bool ip = IsIpLiteral(name);
      if (!ip) SSL_set_tlsext_host_name(ssl, name.c_str());
      if (tls_->verify) {
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        if (ip) {
          X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
        } else {
          X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
        }
      }
      auto explain = [ssl, &name](const beast::error_code& ec) {
        long v = SSL_get_verify_result(ssl);
        if (v == X509_V_OK) return ec.message();
        std::string why =
            std::string("certificate verify failed: ") + X509_verify_cert_error_string(v);
        if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH) {
          why += " (the server's certificate does not name \"" + name + "\")";
        } else if (v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                   v == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
                   v == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
                   v == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE) {
          why += " (the server's certificate is not signed by a trusted CA; check the CA file)";
        }
        return why;
      };
      return Exchange(
          ioc, stream, &resolver,
          [&](std::function<void(const beast::error_code&)> done) {
            resolve_and_connect(stream.next_layer(),
                                [&stream, &stage, done](const beast::error_code& ec) {
                                  if (ec) {
                                    done(ec);
                                    return;
                                  }
                                  stage = Stage::kHandshake;
                                  stream.async_handshake(asio::ssl::stream_base::client, done);
                                });
          },
          &stage, req, request, options_, Describe(), explain);
    }
    asio::ip::tcp::socket sock(ioc);
    return Exchange(
        ioc, sock, &resolver,
        [&](std::function<void(const beast::error_code&)> done) {
          resolve_and_connect(sock, std::move(done));
        },
        &stage, req, request, options_, Describe());
  } catch (const std::exception& e) {
    return Status::IoError(Describe() + " " + request.method + " " +
                           TargetForMessages(request.target) + ": " + e.what());
  } catch (...) {
    return Status::IoError(Describe() + " " + request.method + " " +
                           TargetForMessages(request.target) + ": unknown exception");
  }
}

}  // namespace tidemark

#include "autoscaler/kube_config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <exception>

#include "common/file_util.h"

namespace tidemark::autoscaler {

namespace {

std::string Trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Standard base64 with optional padding and whitespace; nullopt on any other character.
std::optional<std::string> Base64Decode(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else if (c == '=' || c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      continue;
    } else {
      return std::nullopt;
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return base_dir + "/" + path;
}

// The entry of list `list` (clusters, users, contexts) whose name is `name`; null node if none.
YAML::Node FindNamed(const YAML::Node& root, const char* list, const std::string& name) {
  YAML::Node l = root[list];
  if (l && l.IsSequence()) {
    for (const auto& e : l) {
      if (e.IsMap() && e["name"] && e["name"].Scalar() == name) return e;
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

std::string Str(const YAML::Node& n, const char* key) {
  YAML::Node v = n[key];
  return v && v.IsScalar() ? v.Scalar() : "";
}

}  // namespace

std::optional<std::string> GetEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

Status ParseServerUrl(std::string_view url, KubeConfig* out) {
  std::string_view rest = url;
  if (rest.substr(0, 8) == "https://") {
    out->https = true;
    rest.remove_prefix(8);
  } else if (rest.substr(0, 7) == "http://") {
    out->https = false;
    rest.remove_prefix(7);
  } else {
    return Status::InvalidArgument("server \"" + std::string(url) +
                                   "\": expected https://host[:port]");
  }
  const size_t slash = rest.find('/');
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash);
    path = path.substr(0, path.find_first_of("?#"));
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    out->path_prefix = std::string(path);
  } else {
    out->path_prefix.clear();
  }
  rest = rest.substr(0, slash);
  std::string host;
  std::string_view port;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("server \"" + std::string(url) + "\": unclosed '['");
    }
    host = std::string(rest.substr(1, close - 1));
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
  } else {
    size_t colon = rest.rfind(':');
    host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  if (host.empty()) return Status::InvalidArgument("server \"" + std::string(url) + "\": no host");
  out->host = host;
  out->port = out->https ? 443 : 80;
  if (!port.empty()) {
    char* end = nullptr;
    std::string p(port);
    long v = std::strtol(p.c_str(), &end, 10);
    if (*end != '\0' || v <= 0 || v > 65535) {
      return Status::InvalidArgument("server \"" + std::string(url) + "\": bad port");
    }
    out->port = static_cast<uint16_t>(v);
  }
  return Status::Ok();
}

Result<KubeConfig> LoadInClusterConfig(const EnvLookup& env,
                                       const std::string& service_account_dir) {
  std::optional<std::string> host = env("KUBERNETES_SERVICE_HOST");
  std::optional<std::string> port = env("KUBERNETES_SERVICE_PORT_HTTPS");
  if (!port || port->empty()) port = env("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return Status::InvalidArgument(
        "in-cluster Kubernetes config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must "
        "be set (is the agent running in a pod?)");
  }
  KubeConfig c;
  c.source = "in-cluster service account " + service_account_dir;
  std::string h = *host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6 literal
  TIDEMARK_RETURN_IF_ERROR(ParseServerUrl("https://" + h + ":" + *port, &c));
  c.token_file = service_account_dir + "/token";
  Result<std::string> token = ReadFile(c.token_file);
  if (!token.ok()) {
    return Status::InvalidArgument("in-cluster Kubernetes config: token " + c.token_file + ": " +
                                   token.status().message());
  }
  c.token = Trim(*token);
  c.tls.ca_file = service_account_dir + "/ca.crt";
  if (!PathExists(c.tls.ca_file)) {
    return Status::InvalidArgument("in-cluster Kubernetes config: CA " + c.tls.ca_file +
                                   " does not exist");
  }
  Result<std::string> ns = ReadFile(service_account_dir + "/namespace");
  if (ns.ok() && !Trim(*ns).empty()) c.namespace_ = Trim(*ns);
  return c;
}

Result<KubeConfig> LoadKubeConfigFile(const std::string& path, const std::string& context) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return Status::InvalidArgument("kubeconfig " + text.status().message());
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  if (dir.empty()) dir = "/";
  return ParseKubeConfig(*text, path, dir, context);
}

Result<KubeConfig> ParseKubeConfig(std::string_view yaml, const std::string& source,
                                   const std::string& base_dir, const std::string& context) {
  auto fail = [&](const std::string& why) {
    return Status::InvalidArgument("kubeconfig " + source + ": " + why);
  };
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsMap()) return fail("not a YAML mapping");
    std::string ctx_name = context.empty() ? Str(root, "current-context") : context;
    if (ctx_name.empty()) return fail("no current-context and no context given");
    YAML::Node ctx = FindNamed(root, "contexts", ctx_name);
    if (!ctx || !ctx["context"].IsMap()) return fail("context \"" + ctx_name + "\" not found");
    std::string cluster_name = Str(ctx["context"], "cluster");
    std::string user_name = Str(ctx["context"], "user");
    KubeConfig c;
    c.source = "kubeconfig " + source + " (context " + ctx_name + ")";
    std::string ns = Str(ctx["context"], "namespace");
    if (!ns.empty()) c.namespace_ = ns;

    YAML::Node cluster = FindNamed(root, "clusters", cluster_name);
    if (!cluster || !cluster["cluster"].IsMap()) {
      return fail("cluster \"" + cluster_name + "\" (of context " + ctx_name + ") not found");
    }
    YAML::Node cl = cluster["cluster"];
    std::string server = Str(cl, "server");
    if (server.empty()) return fail("cluster \"" + cluster_name + "\" has no server");
    Status st = ParseServerUrl(server, &c);
    if (!st.ok()) return fail("cluster \"" + cluster_name + "\": " + st.message());
    c.tls.server_name = Str(cl, "tls-server-name");
    c.tls.insecure_skip_verify = Str(cl, "insecure-skip-tls-verify") == "true";
    auto data_field = [&](const YAML::Node& n, const char* key, std::string* out) -> Status {
      std::string b64 = Str(n, key);
      if (b64.empty()) return Status::Ok();
      std::optional<std::string> d = Base64Decode(b64);
      if (!d) return fail(std::string(key) + ": not valid base64");
      *out = std::move(*d);
      return Status::Ok();
    };
    TIDEMARK_RETURN_IF_ERROR(data_field(cl, "certificate-authority-data", &c.tls.ca_pem));
    c.tls.ca_file = Resolve(base_dir, Str(cl, "certificate-authority"));

    if (!user_name.empty()) {
      YAML::Node user = FindNamed(root, "users", user_name);
      if (!user) return fail("user \"" + user_name + "\" (of context " + ctx_name + ") not found");
      YAML::Node u = user["user"];
      if (u && u.IsMap()) {
        c.token = Str(u, "token");
        std::string token_file = Str(u, "tokenFile");
        if (c.token.empty() && !token_file.empty()) {
          c.token_file = Resolve(base_dir, token_file);
          Result<std::string> t = ReadFile(c.token_file);
          if (!t.ok()) return fail("tokenFile " + t.status().message());
          c.token = Trim(*t);
        }
        TIDEMARK_RETURN_IF_ERROR(data_field(u, "client-certificate-data", &c.tls.cert_pem));
        TIDEMARK_RETURN_IF_ERROR(data_field(u, "client-key-data", &c.tls.key_pem));
        c.tls.cert_file = Resolve(base_dir, Str(u, "client-certificate"));
        c.tls.key_file = Resolve(base_dir, Str(u, "client-key"));
        bool has_cert = !c.tls.cert_pem.empty() || !c.tls.cert_file.empty();
        if (c.token.empty() && !has_cert && (u["exec"] || u["auth-provider"])) {
          return fail("user \"" + user_name +
                      "\" authenticates with an exec/auth-provider plugin, which tidemark does not "
                      "run; give it a token (e.g. a service account's) or a client certificate");
        }
        if (c.token.empty() && !has_cert && (u["username"] || u["password"])) {
          return fail("user \"" + user_name +
                      "\" uses basic auth, which tidemark does not support; use a token or a "
                      "client certificate");
        }
      }
    }
    return c;
  } catch (const std::exception& e) {
    return fail(std::string("not valid YAML: ") + e.what());
  }
}

}  // namespace tidemark::autoscaler

#include "autoscaler/kube_config.h"

#include <gtest/gtest.h>

#include <map>

#include "tests/testing/testing.h"

namespace tidemark::autoscaler {
namespace {

// certificate-authority-data is base64("-----BEGIN CERTIFICATE-----\n"), client-key-data
// base64("key-data").
const char kConfig[] = R"(apiVersion: v1
kind: Config
current-context: dev
preferences: {}
clusters:
- name: dev-cluster
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority: certs/ca.crt
    tls-server-name: kubernetes.default
- name: prod-cluster
  cluster:
    server: https://[fd00::1]
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
- name: lab-cluster
  cluster:
    server: http://127.0.0.1:8001
    insecure-skip-tls-verify: true
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user, namespace: team-a}
- name: prod
  context: {cluster: prod-cluster, user: prod-user}
- name: lab
  context: {cluster: lab-cluster, user: sso-user}
- name: broken
  context: {cluster: missing, user: dev-user}
users:
- name: dev-user
  user:
    client-certificate: /etc/k8s/client.crt
    client-key: client.key
- name: prod-user
  user:
    token: abc.def
    client-key-data: a2V5LWRhdGE=
- name: sso-user
  user:
    exec: {command: kubelogin, apiVersion: client.authentication.k8s.io/v1beta1}
)";

TEST(KubeConfigTest, CurrentContextWithRelativePaths) {
  Result<KubeConfig> c = ParseKubeConfig(kConfig, "cfg", "/home/u/.kube");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->host, "10.0.0.1");
  EXPECT_EQ(c->port, 6443);
  EXPECT_TRUE(c->https);
  EXPECT_EQ(c->namespace_, "team-a");
  EXPECT_EQ(c->tls.ca_file, "/home/u/.kube/certs/ca.crt");
  EXPECT_EQ(c->tls.server_name, "kubernetes.default");
  EXPECT_EQ(c->tls.cert_file, "/etc/k8s/client.crt");
  EXPECT_EQ(c->tls.key_file, "/home/u/.kube/client.key");
  EXPECT_EQ(c->token, "");
  EXPECT_FALSE(c->tls.insecure_skip_verify);
  EXPECT_EQ(c->source, "kubeconfig cfg (context dev)");
}

TEST(KubeConfigTest, NamedContextWithDataFieldsAndIpv6) {
  Result<KubeConfig> c = ParseKubeConfig(kConfig, "cfg", "/x", "prod");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->host, "fd00::1");
  EXPECT_EQ(c->port, 443);
  EXPECT_EQ(c->namespace_, "default");
  EXPECT_EQ(c->tls.ca_pem, "-----BEGIN CERTIFICATE-----\n");
  EXPECT_EQ(c->tls.key_pem, "key-data");
  EXPECT_EQ(c->token, "abc.def");
}

TEST(KubeConfigTest, ExecPluginUsersAreRejectedWithAReason) {
  Result<KubeConfig> c = ParseKubeConfig(kConfig, "cfg", "/x", "lab");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("exec/auth-provider plugin"), std::string::npos)
      << c.status().message();
}

TEST(KubeConfigTest, MissingEntriesNameWhatIsMissing) {
  Result<KubeConfig> c = ParseKubeConfig(kConfig, "cfg", "/x", "nope");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("context \"nope\" not found"), std::string::npos);
  c = ParseKubeConfig(kConfig, "cfg", "/x", "broken");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("cluster \"missing\""), std::string::npos)
      << c.status().message();
  c = ParseKubeConfig("clusters: [", "bad.yaml", "/x");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("kubeconfig bad.yaml: not valid YAML"), std::string::npos)
      << c.status().message();
  c = ParseKubeConfig(
      "current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
      "clusters: [{name: c, cluster: {server: 'https://h', "
      "certificate-authority-data: '@@@'}}]\n",
      "cfg", "/x");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("not valid base64"), std::string::npos);
  c = ParseKubeConfig(
      "current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
      "clusters: [{name: c, cluster: {server: 'ftp://h'}}]\n",
      "cfg", "/x");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("expected https://host"), std::string::npos);
}

TEST(KubeConfigTest, FileLoadingResolvesAgainstItsDirectory) {
  testing::TempDir dir;
  dir.WriteFile("kube/config", kConfig);
  dir.WriteFile("kube/token", "from-file\n");
  Result<KubeConfig> c = LoadKubeConfigFile(dir.path() + "/kube/config");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->tls.ca_file, dir.path() + "/kube/certs/ca.crt");
  dir.WriteFile("kube/config2",
                "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
                "clusters: [{name: c, cluster: {server: 'https://h:1'}}]\n"
                "users: [{name: u, user: {tokenFile: token}}]\n");
  c = LoadKubeConfigFile(dir.path() + "/kube/config2");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->token, "from-file");
  EXPECT_EQ(c->token_file, dir.path() + "/kube/token");
  c = LoadKubeConfigFile(dir.path() + "/absent");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("absent"), std::string::npos);
}

class InClusterConfigTest : public ::testing::Test {
 protected:
  EnvLookup Env() {
    return [this](const std::string& k) -> std::optional<std::string> {
      auto it = env_.find(k);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
  }
  std::map<std::string, std::string> env_ = {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                             {"KUBERNETES_SERVICE_PORT", "443"}};
  testing::TempDir sa_;
};

TEST_F(InClusterConfigTest, ReadsServiceAccountFiles) {
  sa_.WriteFile("token", "tok\n");
  sa_.WriteFile("ca.crt", "pem");
  sa_.WriteFile("namespace", "monitoring\n");
  Result<KubeConfig> c = LoadInClusterConfig(Env(), sa_.path());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->host, "10.96.0.1");
  EXPECT_EQ(c->port, 443);
  EXPECT_TRUE(c->https);
  EXPECT_EQ(c->token, "tok");
  EXPECT_EQ(c->token_file, sa_.path() + "/token");
  EXPECT_EQ(c->tls.ca_file, sa_.path() + "/ca.crt");
  EXPECT_EQ(c->namespace_, "monitoring");
}

TEST_F(InClusterConfigTest, Ipv6ServiceHost) {
  env_["KUBERNETES_SERVICE_HOST"] = "fd00:10:96::1";
  sa_.WriteFile("token", "tok");
  sa_.WriteFile("ca.crt", "pem");
  Result<KubeConfig> c = LoadInClusterConfig(Env(), sa_.path());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->host, "fd00:10:96::1");
  EXPECT_EQ(c->namespace_, "default");
}

TEST_F(InClusterConfigTest, MissingEnvironmentOrFilesAreClearErrors) {
  sa_.WriteFile("ca.crt", "pem");
  Result<KubeConfig> c = LoadInClusterConfig(Env(), sa_.path());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("/token"), std::string::npos) << c.status().message();
  env_.clear();
  c = LoadInClusterConfig(Env(), sa_.path());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("KUBERNETES_SERVICE_HOST"), std::string::npos);
}

}  // namespace
}  // namespace tidemark::autoscaler

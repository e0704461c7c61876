#include "collector/container_identity.h"

#include <gtest/gtest.h>

#include <string>

namespace tidemark::collector {
namespace {

const std::string kId = "0388ac1bed7b08402899ce0004bb6371269ada01d4901ab52b4fbb3638f5a137";
const std::string kUid = "1b4e28ba-2fa1-11d2-883f-b9a761bde3fb";
const std::string kUidUnderscores = "1b4e28ba_2fa1_11d2_883f_b9a761bde3fb";

struct Case {
  std::string path;
  CgroupIdentity want;
};

CgroupIdentity Container(std::string runtime, std::string pod = "", std::string qos = "") {
  CgroupIdentity id;
  id.kind = CgroupKind::kContainer;
  id.runtime = std::move(runtime);
  id.container_id = kId;
  id.pod_uid = std::move(pod);
  id.qos = std::move(qos);
  return id;
}

CgroupIdentity Pod(std::string qos) {
  CgroupIdentity id;
  id.kind = CgroupKind::kPod;
  id.pod_uid = kUid;
  id.qos = std::move(qos);
  return id;
}

CgroupIdentity Service(std::string unit) {
  CgroupIdentity id;
  id.kind = CgroupKind::kSystemdService;
  id.unit = std::move(unit);
  return id;
}

TEST(ContainerIdentityTest, ClassifiesKnownLayouts) {
  const Case cases[] = {
      // Docker, cgroupfs and systemd drivers.
      {"/docker/" + kId, Container("docker")},
      {"/system.slice/docker-" + kId + ".scope", Container("docker")},
      // containerd / CRI-O / podman scopes outside Kubernetes.
      {"/system.slice/cri-containerd-" + kId + ".scope", Container("containerd")},
      {"/machine.slice/crio-" + kId + ".scope", Container("crio")},
      {"/machine.slice/libpod-" + kId + ".scope", Container("podman")},
      // Kubernetes, cgroupfs driver.
      {"/kubepods/pod" + kUid + "/" + kId, Container("", kUid, "guaranteed")},
      {"/kubepods/burstable/pod" + kUid + "/" + kId, Container("", kUid, "burstable")},
      {"/kubepods/besteffort/pod" + kUid + "/" + kId, Container("", kUid, "besteffort")},
      {"/kubepods/burstable/pod" + kUid + "/crio-" + kId, Container("crio", kUid, "burstable")},
      {"/kubepods/burstable/pod" + kUid, Pod("burstable")},
      {"/kubepods/pod" + kUid, Pod("guaranteed")},
      // Kubernetes, systemd driver.
      {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kUidUnderscores +
           ".slice/cri-containerd-" + kId + ".scope",
       Container("containerd", kUid, "burstable")},
      {"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + kUidUnderscores +
           ".slice/crio-" + kId + ".scope",
       Container("crio", kUid, "besteffort")},
      {"/kubepods.slice/kubepods-pod" + kUidUnderscores + ".slice/docker-" + kId + ".scope",
       Container("docker", kUid, "guaranteed")},
      {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kUidUnderscores +
           ".slice",
       Pod("burstable")},
      {"/kubepods.slice/kubepods-pod" + kUidUnderscores + ".slice", Pod("guaranteed")},
      // systemd services.
      {"/system.slice/nginx.service", Service("nginx.service")},
      {"/system.slice/system-getty.slice/getty@tty1.service", Service("getty@tty1.service")},
      {"/user.slice/user-1000.slice/user@1000.service", Service("user@1000.service")},
      // Neither.
      {"/", {}},
      {"", {}},
      {"/docker", {}},
      {"/system.slice", {}},
      {"/init.scope", {}},
      {"/kubepods.slice", {}},
      {"/kubepods.slice/kubepods-burstable.slice", {}},
      {"/kubepods/burstable", {}},
      {"/" + kId, {}},                                  // A bare id needs a docker parent.
      {"/docker/" + kId.substr(0, 63), {}},             // Too short.
      {"/docker/" + kId + "/init.scope", {}},           // Nested inside a container.
      {"/system.slice/docker-" + kId + "x.scope", {}},  // Not hex.
      {"/system.slice/crio-conmon-" + kId + ".scope", {}},
      {"/system.slice/.service", {}},
      {"/kubepods/burstable/pod" + kUid + "/" + kId + "/extra", {}},
      {"/kubepods/burstable/pod" + kUid + "/not-a-container", {}},
      {"/tidemark-test-123", {}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(IdentifyCgroup(c.path), c.want) << c.path;
  }
}

TEST(ContainerIdentityTest, FullContainerId) {
  EXPECT_TRUE(IsFullContainerId(kId));
  EXPECT_FALSE(IsFullContainerId(kId.substr(1)));
  std::string upper = kId;
  upper[0] = 'A';
  EXPECT_FALSE(IsFullContainerId(upper));
  EXPECT_FALSE(IsFullContainerId(""));
}

}  // namespace
}  // namespace tidemark::collector

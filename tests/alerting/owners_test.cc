#include "alerting/owners.h"

#include <gtest/gtest.h>

namespace tidemark::alerting {
namespace {

Alert MakeAlert(Labels labels, Labels annotations = {}) {
  Alert a;
  std::sort(labels.begin(), labels.end(),
            [](const Label& x, const Label& y) { return x.name < y.name; });
  a.labels = std::move(labels);
  a.annotations = std::move(annotations);
  return a;
}

std::unique_ptr<OwnerResolver> MakeResolver(OwnerOptions opts = {}) {
  auto r = OwnerResolver::Create(std::move(opts));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

TEST(OwnerResolverTest, ExistingOwnerIsKept) {
  OwnerOptions opts;
  opts.static_map = {{".*", "", "static-owner"}};
  auto r = MakeResolver(opts);
  Alert a = MakeAlert({{"alertname", "X"}, {"owner", "alice"}, {"team", "t1"}});
  r->Apply(&a);
  EXPECT_EQ(GetLabel(a.labels, "owner"), "alice");
  EXPECT_EQ(a.labels.size(), 3u);
}

TEST(OwnerResolverTest, LabelKeysInOrderAndInExportedForms) {
  auto r = MakeResolver();
  // Plain `team` label.
  EXPECT_EQ(r->Resolve(MakeAlert({{"team", "payments"}})), "payments");
  // Docker label as the cgroup collector exports it; `owner` comes before `team`.
  EXPECT_EQ(r->Resolve(MakeAlert({{"container_label_owner", "bob"}, {"team", "payments"}})), "bob");
  // kube-state-metrics pod-label form.
  EXPECT_EQ(r->Resolve(MakeAlert({{"label_team", "infra"}})), "infra");
  // An annotation is the last place a key is looked for.
  EXPECT_EQ(r->Resolve(MakeAlert({{"alertname", "X"}}, {{"owner", "carol"}})), "carol");
}

TEST(OwnerResolverTest, ConfiguredKeysAreSanitizedForContainerLabels) {
  OwnerOptions opts;
  opts.label_keys = {"com.example.owner"};
  auto r = MakeResolver(opts);
  EXPECT_EQ(r->Resolve(MakeAlert({{"container_label_com_example_owner", "dave"}})), "dave");
  // The default keys are no longer consulted.
  EXPECT_EQ(r->Resolve(MakeAlert({{"owner", "x"}, {"team", "y"}})), "x");  // kept as is
  EXPECT_EQ(r->Resolve(MakeAlert({{"team", "y"}})), "unowned");
}

TEST(OwnerResolverTest, ServiceLabelsLookupComesBeforeStaticMap) {
  OwnerOptions opts;
  opts.static_map = {{"cart", "", "static-owner"}};
  opts.service_labels = [](std::string_view service) -> Labels {
    if (service == "cart") return {{"team", "checkout"}};
    return {};
  };
  auto r = MakeResolver(opts);
  EXPECT_EQ(r->Resolve(MakeAlert({{"container_label_com_docker_swarm_service_name", "cart"}})),
            "checkout");
}

TEST(OwnerResolverTest, StaticMapFirstMatchThenDefault) {
  OwnerOptions opts;
  opts.static_map = {
      {"cart-.*", "shop", "checkout"}, {"", "shop", "shop-team"}, {"db|cache", "", "dba"}};
  opts.default_owner = "ops";
  auto r = MakeResolver(opts);
  EXPECT_EQ(r->Resolve(MakeAlert({{"container", "cart-api"}, {"namespace", "shop"}})), "checkout");
  EXPECT_EQ(r->Resolve(MakeAlert({{"container", "web"}, {"namespace", "shop"}})), "shop-team");
  // Anchored: "cart-api" does not match in another namespace and "dbx" does not match "db|cache".
  EXPECT_EQ(r->Resolve(MakeAlert({{"container", "cart-api"}, {"namespace", "other"}})), "ops");
  EXPECT_EQ(r->Resolve(MakeAlert({{"container", "dbx"}})), "ops");
  EXPECT_EQ(r->Resolve(MakeAlert({{"service", "cache"}})), "dba");
  // A plain Docker container is known by its name.
  EXPECT_EQ(r->Resolve(MakeAlert({{"id", "/docker/abc"}, {"name", "db"}})), "dba");
  // Swarm stack namespace and compose service labels count as namespace and service.
  EXPECT_EQ(r->Resolve(MakeAlert({{"container_label_com_docker_compose_service", "db"}})), "dba");
  EXPECT_EQ(r->Resolve(MakeAlert({{"container_label_com_docker_stack_namespace", "shop"}})),
            "shop-team");
}

TEST(OwnerResolverTest, ApplyKeepsLabelsSorted) {
  auto r = MakeResolver();
  Alert a = MakeAlert({{"alertname", "X"}, {"pod", "p"}});
  r->Apply(&a);
  ASSERT_EQ(a.labels.size(), 3u);
  EXPECT_EQ(a.labels[0].name, "alertname");
  EXPECT_EQ(a.labels[1].name, "owner");
  EXPECT_EQ(a.labels[1].value, "unowned");
  EXPECT_EQ(a.labels[2].name, "pod");
}

TEST(OwnerResolverTest, BadConfigIsRejectedWithTheEntry) {
  OwnerOptions bad_re;
  bad_re.static_map = {{"(", "", "x"}};
  auto r = OwnerResolver::Create(bad_re);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("owners.static[0].match_service"), std::string::npos)
      << r.status().message();
  OwnerOptions no_pattern;
  no_pattern.static_map = {{"", "", "x"}};
  EXPECT_FALSE(OwnerResolver::Create(no_pattern).ok());
  OwnerOptions empty_default;
  empty_default.default_owner = "";
  EXPECT_FALSE(OwnerResolver::Create(empty_default).ok());
}

}  // namespace
}  // namespace tidemark::alerting

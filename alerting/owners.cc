#include "alerting/owners.h"

#include <re2/re2.h>

#include <algorithm>
#include <utility>

namespace tidemark::alerting {

std::string_view AlertService(const Labels& labels) {
  for (std::string_view key : {"service", "container_label_com_docker_swarm_service_name",
                               "container_label_com_docker_compose_service", "container", "name"}) {
    std::string_view v = GetLabel(labels, key);
    if (!v.empty()) return v;
  }
  return {};
}

std::string_view AlertNamespace(const Labels& labels) {
  std::string_view v = GetLabel(labels, "namespace");
  if (!v.empty()) return v;
  return GetLabel(labels, "container_label_com_docker_stack_namespace");
}

void SetLabel(Labels* labels, std::string_view name, std::string value) {
  auto it = std::lower_bound(labels->begin(), labels->end(), name,
                             [](const Label& l, std::string_view n) { return l.name < n; });
  if (it != labels->end() && it->name == name) {
    it->value = std::move(value);
  } else {
    labels->insert(it, Label{std::string(name), std::move(value)});
  }
}

namespace {

Result<std::unique_ptr<re2::RE2>> CompileAnchored(const std::string& pattern,
                                                  const std::string& what) {
  if (pattern.empty()) return std::unique_ptr<re2::RE2>();
  re2::RE2::Options opts;
  opts.set_log_errors(false);
  auto re = std::make_unique<re2::RE2>("^(?:" + pattern + ")$", opts);
  if (!re->ok()) {
    return Status::InvalidArgument(what + ": bad regex \"" + pattern + "\": " + re->error());
  }
  return re;
}

}  // namespace

Result<std::unique_ptr<OwnerResolver>> OwnerResolver::Create(OwnerOptions options) {
  if (options.default_owner.empty()) {
    return Status::InvalidArgument("owners.default: must not be empty");
  }
  std::unique_ptr<OwnerResolver> r(new OwnerResolver(std::move(options)));
  for (size_t i = 0; i < r->options_.static_map.size(); ++i) {
    const OwnerRule& rule = r->options_.static_map[i];
    std::string what = "owners.static[" + std::to_string(i) + "]";
    if (rule.owner.empty()) return Status::InvalidArgument(what + ".owner: must not be empty");
    if (rule.match_service.empty() && rule.match_namespace.empty()) {
      return Status::InvalidArgument(what + ": needs match_service or match_namespace");
    }
    CompiledRule c;
    auto s = CompileAnchored(rule.match_service, what + ".match_service");
    if (!s.ok()) return s.status();
    auto n = CompileAnchored(rule.match_namespace, what + ".match_namespace");
    if (!n.ok()) return n.status();
    c.service = std::move(s).value();
    c.namespace_ = std::move(n).value();
    c.owner = rule.owner;
    r->rules_.push_back(std::move(c));
  }
  return r;
}

OwnerResolver::OwnerResolver(OwnerOptions options) : options_(std::move(options)) {}
OwnerResolver::~OwnerResolver() = default;

std::string OwnerResolver::FromKeys(const Labels& labels, const Labels* annotations) const {
  for (const std::string& key : options_.label_keys) {
    std::string clean = SanitizeLabelName(key);
    for (const std::string& name : {key, "container_label_" + clean, "label_" + clean}) {
      std::string_view v = GetLabel(labels, name);
      if (!v.empty()) return std::string(v);
    }
    if (annotations != nullptr) {
      std::string_view v = GetLabel(*annotations, key);
      if (!v.empty()) return std::string(v);
    }
  }
  return "";
}

std::string OwnerResolver::Resolve(const Alert& alert) const {
  std::string_view own = GetLabel(alert.labels, "owner");
  if (!own.empty()) return std::string(own);
  std::string owner = FromKeys(alert.labels, &alert.annotations);
  if (!owner.empty()) return owner;
  std::string_view service = AlertService(alert.labels);
  if (options_.service_labels && !service.empty()) {
    Labels svc = options_.service_labels(service);
    owner = FromKeys(svc, nullptr);
    if (!owner.empty()) return owner;
  }
  std::string_view ns = AlertNamespace(alert.labels);
  for (const CompiledRule& rule : rules_) {
    if (rule.service != nullptr && !re2::RE2::FullMatch(service, *rule.service)) continue;
    if (rule.namespace_ != nullptr && !re2::RE2::FullMatch(ns, *rule.namespace_)) continue;
    return rule.owner;
  }
  return options_.default_owner;
}

void OwnerResolver::Apply(Alert* alert) const {
  if (!GetLabel(alert->labels, "owner").empty()) return;
  SetLabel(&alert->labels, "owner", Resolve(*alert));
}

}  // namespace tidemark::alerting

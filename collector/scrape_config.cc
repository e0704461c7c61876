#include "collector/scrape_config.h"

#include <algorithm>
#include <map>

#include "common/duration.h"

namespace tidemark::collector {

namespace {

constexpr std::string_view kOptionKeys[] = {
    "scrape_interval",         "scrape_timeout",           "sample_limit",    "label_limit",
    "label_name_length_limit", "label_value_length_limit", "body_size_limit", "honor_labels",
    "honor_timestamps"};

bool IsOptionKey(std::string_view k) {
  for (auto o : kOptionKeys) {
    if (o == k) return true;
  }
  return false;
}

Status ParseOption(const YamlWalker& w, const std::string& k, const YAML::Node& v,
                   const std::string& full, ScrapeOptions* o) {
  if (k == "scrape_interval") return w.Duration(v, full, &o->interval);
  if (k == "scrape_timeout") return w.Duration(v, full, &o->timeout);
  if (k == "sample_limit") return w.Size(v, full, &o->sample_limit);
  if (k == "label_limit") return w.Size(v, full, &o->label_limit);
  if (k == "label_name_length_limit") return w.Size(v, full, &o->label_name_length_limit);
  if (k == "label_value_length_limit") return w.Size(v, full, &o->label_value_length_limit);
  if (k == "body_size_limit") return w.Bytes(v, full, &o->body_size_limit);
  if (k == "honor_labels") return w.Bool(v, full, &o->honor_labels);
  return w.Bool(v, full, &o->honor_timestamps);
}

// A mapping of label name → string value.
Status ParseLabelMap(const YamlWalker& w, const YAML::Node& n, const std::string& key,
                     Labels* out) {
  if (n.IsNull()) return Status::Ok();
  if (!n.IsMap()) return w.Error(n, key, "expected a mapping of label names to values");
  for (const auto& kv : n) {
    Label l{kv.first.Scalar(), ""};
    TIDEMARK_RETURN_IF_ERROR(w.String(kv.second, key + "." + l.name, &l.value));
    if (!IsValidLabelName(l.name) || l.name.starts_with("__")) {
      return w.Error(kv.first, key + "." + l.name, "invalid label name");
    }
    out->push_back(std::move(l));
  }
  return Status::Ok();
}

// Prometheus' params: name → list of values.
Status ParseParams(const YamlWalker& w, const YAML::Node& n, const std::string& key,
                   ScrapeParams* out) {
  if (n.IsNull()) return Status::Ok();
  if (!n.IsMap()) return w.Error(n, key, "expected a mapping of names to lists of values");
  for (const auto& kv : n) {
    const std::string name = kv.first.Scalar();
    std::vector<std::string> values;
    TIDEMARK_RETURN_IF_ERROR(w.StringList(kv.second, key + "." + name, &values));
    for (auto& v : values) out->emplace_back(name, std::move(v));
  }
  return Status::Ok();
}

Status ParseJob(const YamlWalker& w, const YAML::Node& n, const std::string& key,
                const ScrapeOptions& defaults, ScrapeJob* job) {
  job->options = defaults;
  return w.Map(n, key,
               {"job_name", "scheme", "metrics_path", "params", "static_configs", "scrape_interval",
                "scrape_timeout", "sample_limit", "label_limit", "label_name_length_limit",
                "label_value_length_limit", "body_size_limit", "honor_labels", "honor_timestamps"},
               [&](const std::string& k, const YAML::Node& v, const std::string& f) -> Status {
                 if (IsOptionKey(k)) return ParseOption(w, k, v, f, &job->options);
                 if (k == "job_name") return w.String(v, f, &job->job_name);
                 if (k == "scheme") return w.String(v, f, &job->scheme);
                 if (k == "metrics_path") return w.String(v, f, &job->metrics_path);
                 if (k == "params") return ParseParams(w, v, f, &job->params);
                 if (v.IsNull()) return Status::Ok();
                 if (!v.IsSequence()) return w.Error(v, f, "expected a list");
                 for (size_t i = 0; i < v.size(); ++i) {
                   const std::string gk = f + "[" + std::to_string(i) + "]";
                   StaticTargets g;
                   TIDEMARK_RETURN_IF_ERROR(w.Map(v[i], gk, {"targets", "labels"},
                                                  [&](const std::string& k2, const YAML::Node& v2,
                                                      const std::string& f2) -> Status {
                                                    if (k2 == "targets")
                                                      return w.StringList(v2, f2, &g.targets);
                                                    return ParseLabelMap(w, v2, f2, &g.labels);
                                                  }));
                   job->static_configs.push_back(std::move(g));
                 }
                 return Status::Ok();
               });
}

Status ParseDockerSd(const YamlWalker& w, const YAML::Node& n, const std::string& key,
                     const ScrapeOptions& defaults, DockerSdConfig* d) {
  d->options = defaults;
  return w.Map(n, key,
               {"enabled", "refresh_interval", "network", "use_published_port", "job",
                "metrics_path", "scrape_interval", "scrape_timeout", "sample_limit", "label_limit",
                "label_name_length_limit", "label_value_length_limit", "body_size_limit",
                "honor_labels", "honor_timestamps"},
               [&](const std::string& k, const YAML::Node& v, const std::string& f) -> Status {
                 if (IsOptionKey(k)) return ParseOption(w, k, v, f, &d->options);
                 if (k == "enabled") return w.Bool(v, f, &d->enabled);
                 if (k == "refresh_interval") return w.Duration(v, f, &d->refresh_interval);
                 if (k == "network") return w.String(v, f, &d->network);
                 if (k == "use_published_port") return w.Bool(v, f, &d->use_published_port);
                 if (k == "job") return w.String(v, f, &d->job);
                 return w.String(v, f, &d->metrics_path);
               });
}

void EmitOptions(const ScrapeOptions& o, YAML::Emitter* out) {
  *out << YAML::Key << "scrape_interval" << YAML::Value << FormatDuration(o.interval);
  *out << YAML::Key << "scrape_timeout" << YAML::Value << FormatDuration(o.timeout);
  *out << YAML::Key << "sample_limit" << YAML::Value << o.sample_limit;
  *out << YAML::Key << "label_limit" << YAML::Value << o.label_limit;
  *out << YAML::Key << "label_name_length_limit" << YAML::Value << o.label_name_length_limit;
  *out << YAML::Key << "label_value_length_limit" << YAML::Value << o.label_value_length_limit;
  *out << YAML::Key << "body_size_limit" << YAML::Value << o.body_size_limit;
  *out << YAML::Key << "honor_labels" << YAML::Value << o.honor_labels;
  *out << YAML::Key << "honor_timestamps" << YAML::Value << o.honor_timestamps;
}

}  // namespace

Status ParseScrapeSection(const YamlWalker& w, const YAML::Node& node, const std::string& key,
                          ScrapeConfig* out) {
  YAML::Node jobs, docker_sd;
  TIDEMARK_RETURN_IF_ERROR(
      w.Map(node, key,
            {"max_concurrency", "jobs", "docker_sd", "scrape_interval", "scrape_timeout",
             "sample_limit", "label_limit", "label_name_length_limit", "label_value_length_limit",
             "body_size_limit", "honor_labels", "honor_timestamps"},
            [&](const std::string& k, const YAML::Node& v, const std::string& f) -> Status {
              if (IsOptionKey(k)) return ParseOption(w, k, v, f, &out->defaults);
              if (k == "max_concurrency") return w.Size(v, f, &out->max_concurrency);
              if (k == "jobs") {
                if (!v.IsNull() && !v.IsSequence()) return w.Error(v, f, "expected a list of jobs");
                jobs = v;
              } else {
                docker_sd = v;
              }
              return Status::Ok();
            }));
  out->docker_sd.options = out->defaults;
  if (docker_sd) {
    TIDEMARK_RETURN_IF_ERROR(
        ParseDockerSd(w, docker_sd, key + ".docker_sd", out->defaults, &out->docker_sd));
  }
  if (jobs && jobs.IsSequence()) {
    for (size_t i = 0; i < jobs.size(); ++i) {
      ScrapeJob job;
      TIDEMARK_RETURN_IF_ERROR(
          ParseJob(w, jobs[i], key + ".jobs[" + std::to_string(i) + "]", out->defaults, &job));
      out->jobs.push_back(std::move(job));
    }
  }
  return Status::Ok();
}

void EmitScrapeSection(const ScrapeConfig& c, std::chrono::milliseconds agent_interval,
                       YAML::Emitter* out) {
  *out << YAML::BeginMap;
  EmitOptions(ResolveOptions(c.defaults, agent_interval), out);
  *out << YAML::Key << "max_concurrency" << YAML::Value << c.max_concurrency;
  *out << YAML::Key << "jobs" << YAML::Value << YAML::BeginSeq;
  for (const ScrapeJob& j : c.jobs) {
    *out << YAML::BeginMap;
    *out << YAML::Key << "job_name" << YAML::Value << j.job_name;
    EmitOptions(ResolveOptions(j.options, agent_interval), out);
    *out << YAML::Key << "scheme" << YAML::Value << j.scheme;
    *out << YAML::Key << "metrics_path" << YAML::Value << j.metrics_path;
    std::map<std::string, std::vector<std::string>> params;
    for (const auto& [k, v] : j.params) params[k].push_back(v);
    *out << YAML::Key << "params" << YAML::Value << YAML::Flow << params;
    *out << YAML::Key << "static_configs" << YAML::Value << YAML::BeginSeq;
    for (const StaticTargets& g : j.static_configs) {
      *out << YAML::BeginMap << YAML::Key << "targets" << YAML::Value << YAML::Flow << g.targets;
      std::map<std::string, std::string> labels;
      for (const Label& l : g.labels) labels[l.name] = l.value;
      *out << YAML::Key << "labels" << YAML::Value << YAML::Flow << labels << YAML::EndMap;
    }
    *out << YAML::EndSeq << YAML::EndMap;
  }
  *out << YAML::EndSeq;
  const DockerSdConfig& d = c.docker_sd;
  *out << YAML::Key << "docker_sd" << YAML::Value << YAML::BeginMap;
  *out << YAML::Key << "enabled" << YAML::Value << d.enabled;
  *out << YAML::Key << "refresh_interval" << YAML::Value << FormatDuration(d.refresh_interval);
  *out << YAML::Key << "network" << YAML::Value << d.network;
  *out << YAML::Key << "use_published_port" << YAML::Value << d.use_published_port;
  *out << YAML::Key << "job" << YAML::Value << d.job;
  *out << YAML::Key << "metrics_path" << YAML::Value << d.metrics_path;
  EmitOptions(ResolveOptions(d.options, agent_interval), out);
  *out << YAML::EndMap << YAML::EndMap;
}

}  // namespace tidemark::collector

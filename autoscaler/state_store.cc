#include "autoscaler/state_store.h"

#include <filesystem>

#include "common/file_util.h"

namespace tidemark::autoscaler {

namespace {

constexpr int kFormatVersion = 1;

}  // namespace

nlohmann::json DecisionToJson(const Decision& d) {
  nlohmann::json metrics = nlohmann::json::array();
  for (const MetricProposal& p : d.metrics) {
    nlohmann::json m = {{"metric", p.metric}, {"valid", p.valid}};
    if (p.valid) {
      m["replicas"] = p.replicas;
      m["ratio"] = p.ratio;
      m["utilization"] = p.utilization;
      m["value"] = p.value;
    } else {
      m["error"] = p.error;
    }
    metrics.push_back(std::move(m));
  }
  nlohmann::json conds = nlohmann::json::array();
  for (const Condition& c : d.conditions) {
    conds.push_back({{"type", c.type},
                     {"status", c.status ? "True" : "False"},
                     {"reason", c.reason},
                     {"message", c.message}});
  }
  return {{"time_ms", d.time_ms},
          {"current", d.current},
          {"recommendation", d.recommendation},
          {"stabilized", d.stabilized},
          {"desired", d.desired},
          {"rescale", d.rescale},
          {"call_orchestrator", d.call_orchestrator},
          {"reason", d.reason},
          {"limited_reason", d.limited_reason},
          {"panic", d.panic},
          {"panic_reason", d.panic_reason},
          {"metrics", std::move(metrics)},
          {"conditions", std::move(conds)}};
}

Result<Decision> DecisionFromJson(const nlohmann::json& j) {
  try {
    Decision d;
    d.time_ms = j.at("time_ms").get<int64_t>();
    d.current = j.at("current").get<int32_t>();
    d.recommendation = j.at("recommendation").get<int32_t>();
    d.stabilized = j.at("stabilized").get<int32_t>();
    d.desired = j.at("desired").get<int32_t>();
    d.rescale = j.at("rescale").get<bool>();
    d.call_orchestrator = j.at("call_orchestrator").get<bool>();
    d.reason = j.at("reason").get<std::string>();
    d.limited_reason = j.at("limited_reason").get<std::string>();
    d.panic = j.value("panic", false);  // Absent in state files written before the fast path.
    d.panic_reason = j.value("panic_reason", std::string());
    for (const auto& m : j.at("metrics")) {
      MetricProposal p;
      p.metric = m.at("metric").get<std::string>();
      p.valid = m.at("valid").get<bool>();
      if (p.valid) {
        p.replicas = m.at("replicas").get<int32_t>();
        p.ratio = m.at("ratio").is_number() ? m.at("ratio").get<double>() : 0.0;
        p.utilization = m.at("utilization").get<int32_t>();
        p.value = m.at("value").is_number() ? m.at("value").get<double>() : 0.0;
      } else {
        p.error = m.at("error").get<std::string>();
      }
      d.metrics.push_back(std::move(p));
    }
    for (const auto& c : j.at("conditions")) {
      d.conditions.push_back(
          {c.at("type").get<std::string>(), c.at("status").get<std::string>() == "True",
           c.at("reason").get<std::string>(), c.at("message").get<std::string>()});
    }
    return d;
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(std::string("decision: ") + e.what());
  }
}

nlohmann::json HistoryToJson(const History& h) {
  auto pairs = [](const auto& v, auto get) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& x : v) a.push_back(get(x));
    return a;
  };
  nlohmann::json decisions = nlohmann::json::array();
  for (const Decision& d : h.decisions) decisions.push_back(DecisionToJson(d));
  return {{"version", kFormatVersion},
          {"initialized", h.initialized},
          {"recommendations", pairs(h.recommendations,
                                    [](const TimedRecommendation& r) {
                                      return nlohmann::json::array({r.time_ms, r.replicas});
                                    })},
          {"scale_up_events", pairs(h.scale_up_events,
                                    [](const ScaleEvent& e) {
                                      return nlohmann::json::array({e.time_ms, e.change});
                                    })},
          {"scale_down_events", pairs(h.scale_down_events,
                                      [](const ScaleEvent& e) {
                                        return nlohmann::json::array({e.time_ms, e.change});
                                      })},
          {"decisions", std::move(decisions)}};
}

Result<History> HistoryFromJson(const nlohmann::json& j) {
  try {
    if (j.at("version").get<int>() != kFormatVersion) {
      return Status::Corruption("unknown state format version " + j.at("version").dump());
    }
    History h;
    h.initialized = j.at("initialized").get<bool>();
    for (const auto& r : j.at("recommendations")) {
      h.recommendations.push_back({r.at(0).get<int64_t>(), r.at(1).get<int32_t>()});
    }
    for (const auto& e : j.at("scale_up_events")) {
      h.scale_up_events.push_back({e.at(0).get<int64_t>(), e.at(1).get<int32_t>()});
    }
    for (const auto& e : j.at("scale_down_events")) {
      h.scale_down_events.push_back({e.at(0).get<int64_t>(), e.at(1).get<int32_t>()});
    }
    for (const auto& dj : j.at("decisions")) {
      auto d = DecisionFromJson(dj);
      if (!d.ok()) return d.status();
      h.decisions.push_back(std::move(*d));
    }
    return h;
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(e.what());
  }
}

Status StateStore::Open() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status::IoError("autoscaler state dir " + dir_ + ": " + ec.message());
  return Status::Ok();
}

std::string StateStore::PathFor(const std::string& policy_name) const {
  std::string safe;
  for (char c : policy_name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (ok) {
      safe += c;
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", static_cast<unsigned char>(c));
      safe += buf;
    }
  }
  if (safe.empty() || safe[0] == '.') safe = "%" + safe;
  return dir_ + "/" + safe + ".json";
}

Status StateStore::Save(const Policy& policy, int64_t now_ms, size_t keep_decisions,
                        History history) {
  PruneHistory(policy, now_ms, &history);
  while (history.decisions.size() > keep_decisions) history.decisions.pop_front();
  nlohmann::json j = HistoryToJson(history);
  j["policy"] = policy.name;
  j["saved_ms"] = now_ms;
  // Error texts from APIs may hold invalid UTF-8: replace it rather than throw.
  return WriteFileAtomically(PathFor(policy.name),
                             j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

Result<History> StateStore::Load(const std::string& policy_name) const {
  const std::string path = PathFor(policy_name);
  auto text = ReadFile(path);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return History{};
    return Status::IoError("autoscaler state " + path + ": " + text.status().message());
  }
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Corruption("autoscaler state " + path + ": not valid JSON");
  auto h = HistoryFromJson(j);
  if (!h.ok()) return Status::Corruption("autoscaler state " + path + ": " + h.status().message());
  return h;
}

}  // namespace tidemark::autoscaler

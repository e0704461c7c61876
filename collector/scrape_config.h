// The `scrape:` section of the agent's configuration (YAML), read strictly with YamlWalker.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <string>

#include "collector/scrape.h"
#include "common/status.h"
#include "common/yaml_walker.h"

namespace tidemark::collector {

// Parses `node` into *out. Jobs and docker_sd start from the section's scrape options (wherever
// they appear in the mapping) and override them key by key. InvalidArgument "<file>:<line>:
// <key>: why" on unknown keys or bad values; may throw YAML::Exception as YamlWalker does.
Status ParseScrapeSection(const YamlWalker& w, const YAML::Node& node, const std::string& key,
                          ScrapeConfig* out);
// Emits the section with defaults filled in (intervals resolved against `agent_interval`).
void EmitScrapeSection(const ScrapeConfig& config, std::chrono::milliseconds agent_interval,
                       YAML::Emitter* out);

}  // namespace tidemark::collector

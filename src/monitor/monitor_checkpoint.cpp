// Monitor::save and Monitor::load: the monitor's state in a checkpoint, and a resume that
// re-applies the frozen set before the optimizer's state is loaded.

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <sstream>

#include "core/json_integer.h"
#include "io/formats.h"
#include "layerwatch/core/version.h"
#include "monitor/distributed_state.h"
#include "monitor/monitor_impl.h"
#include "sinks/tfrecord.h"

namespace layerwatch {
namespace {

constexpr const char* kFormat = "layerwatch monitor checkpoint";
// A data-parallel run's checkpoint: this line, the number of ranks, their parts' sizes, then
// each rank's own checkpoint (which checks its own integrity).
constexpr std::string_view kRanksMagic = "layerwatch ranks checkpoint\n";

std::string encode_ranks(const std::vector<std::string>& parts) {
  std::string out(kRanksMagic);
  out += std::to_string(parts.size()) + "\n";
  for (size_t r = 0; r < parts.size(); ++r) out += (r ? " " : "") + std::to_string(parts[r].size());
  out += "\n";
  for (const auto& p : parts) out += p;
  return out;
}

bool is_ranks_checkpoint(std::string_view bytes) {
  return bytes.substr(0, kRanksMagic.size()) == kRanksMagic;
}

std::vector<std::string_view> decode_ranks(std::string_view bytes, const std::string& source) {
  const auto corrupt = [&] {
    return CheckpointError(fmt::format(
        "checkpoint {} is corrupt: its list of the ranks' parts is damaged or truncated", source));
  };
  bytes.remove_prefix(kRanksMagic.size());
  const auto line = [&]() {
    const auto end = bytes.find('\n');
    if (end == std::string_view::npos) throw corrupt();
    const std::string text(bytes.substr(0, end));
    bytes.remove_prefix(end + 1);
    return text;
  };
  size_t count = 0;
  std::vector<size_t> sizes;
  try {
    count = std::stoul(line());
    std::istringstream in(line());
    size_t size = 0;
    while (in >> size) sizes.push_back(size);
  } catch (const std::logic_error&) {
    throw corrupt();
  }
  size_t total = 0;
  for (const auto s : sizes) total += s;
  if (count == 0 || sizes.size() != count || total != bytes.size()) throw corrupt();
  std::vector<std::string_view> parts;
  for (const auto s : sizes) {
    parts.push_back(bytes.substr(0, s));
    bytes.remove_prefix(s);
  }
  return parts;
}

// An integer of the state; a float in its place (converting it would be undefined) or another
// type is a corrupt checkpoint.
int64_t integer(const nlohmann::json& j) {
  if (const auto v = detail::json_int64(j)) return *v;
  throw std::invalid_argument("an integer field holds " + j.dump());
}

std::string shape_text(const nlohmann::json& shape) { return shape.dump(); }

nlohmann::json frozen_to_json(const FrozenLayer& f, uint32_t checksum) {
  return {{"layer", f.layer},
          {"step", f.step},
          {"epoch", f.epoch},
          {"parameters", f.report.parameters},
          {"removed_from_optimizer", f.report.removed_from_optimizer},
          {"optimizer_states_erased", f.report.optimizer_states_erased},
          {"batchnorm_modules", f.report.batchnorm_modules},
          {"autograd_skipped", f.report.autograd_skipped},
          {"checksum", checksum}};
}

FrozenLayer frozen_from_json(const nlohmann::json& j) {
  FrozenLayer f;
  f.layer = j.at("layer").get<std::string>();
  f.step = integer(j.at("step"));
  f.epoch = integer(j.at("epoch"));
  f.report.parameters = integer(j.at("parameters"));
  f.report.removed_from_optimizer = integer(j.at("removed_from_optimizer"));
  f.report.optimizer_states_erased = integer(j.at("optimizer_states_erased"));
  f.report.batchnorm_modules = integer(j.at("batchnorm_modules"));
  f.report.autograd_skipped = j.at("autograd_skipped").get<bool>();
  return f;
}

// Option keys whose values differ, dotted ("analysis.metric").
void changed_options(const nlohmann::json& saved, const nlohmann::json& now,
                     const std::string& prefix, std::vector<std::string>* out) {
  for (const auto& [key, value] : now.items()) {
    const auto other = saved.find(key);
    if (other != saved.end() && value.is_object() && other->is_object()) {
      changed_options(*other, value, prefix + key + ".", out);
    } else if (other == saved.end() || *other != value) {
      out->push_back(prefix + key);
    }
  }
}

}  // namespace

nlohmann::json Monitor::Impl::describe_units() const {
  nlohmann::json units = nlohmann::json::array();
  for (const auto& target : freeze_targets_) {
    nlohmann::json shapes = nlohmann::json::array();
    for (const auto& module : target.modules) {
      for (const auto& p : module->parameters()) shapes.push_back(p.sizes().vec());
      for (const auto& b : module->buffers()) shapes.push_back(b.sizes().vec());
    }
    units.push_back({{"name", target.name}, {"shapes", shapes}});
  }
  return units;
}

std::string Monitor::Impl::units_mismatch(const nlohmann::json& saved) const {
  const auto now = describe_units();
  std::vector<std::string> saved_names, names;
  for (const auto& u : saved) saved_names.push_back(u.at("name").get<std::string>());
  for (const auto& u : now) names.push_back(u.at("name").get<std::string>());
  if (saved_names != names) {
    return fmt::format(
        "it was saved by a monitor of the layers [{}], and this one has [{}]; watch the same "
        "layers (watch(), add_freeze_target()) before load()",
        fmt::join(saved_names, ", "), fmt::join(names, ", "));
  }
  for (size_t i = 0; i < now.size(); ++i) {
    if (saved[i].at("shapes") != now[i].at("shapes")) {
      return fmt::format(
          "layer '{}' had parameters and buffers of shapes {} and has {} in this model; it is "
          "a checkpoint of another model",
          names[i], shape_text(saved[i].at("shapes")), shape_text(now[i].at("shapes")));
    }
  }
  return {};
}

uint32_t Monitor::Impl::unit_checksum(const std::string& name) {
  const auto* target = target_named(name);
  uint32_t crc = 0;
  if (!target) return crc;
  torch::NoGradGuard no_grad;
  for (const auto& module : target->modules) {
    auto tensors = module->parameters();
    for (const auto& b : module->buffers()) tensors.push_back(b);
    for (const auto& t : tensors) {
      const auto cpu = t.detach().to(torch::kCPU).contiguous();
      crc = detail::crc32c(cpu.data_ptr(), cpu.nbytes(), crc);
    }
  }
  return crc;
}

std::string Monitor::Impl::save_bytes() {
  if (!distributed_) return rank_checkpoint();
  // Every record so far to rank 0 first, then each rank's part to rank 0, which alone writes.
  sync_ranks(true, false);
  const auto parts =
      distributed_->collectives->gather_strings(rank_checkpoint(), 0, "checkpoint gather");
  return rank() == 0 ? encode_ranks(parts) : std::string();
}

std::string Monitor::Impl::rank_checkpoint() {
  start();
  auto contents = analyzer_->save_state();
  nlohmann::json analyzer_state = std::move(contents.state);
  nlohmann::json frozen = nlohmann::json::array();
  for (const auto& f : frozen_) frozen.push_back(frozen_to_json(f, unit_checksum(f.layer)));
  // A cooling unit's values after the last step are its parameters' values now.
  nlohmann::json cooling = nlohmann::json::array();
  for (const auto& c : cooling_) {
    cooling.push_back(
        {{"decision", to_json(c.decision)}, {"start_step", c.start_step}, {"length", c.length}});
  }
  contents.state = {
      {"format", kFormat},
      {"layerwatch_version", fmt::format("{}.{}.{}", LAYERWATCH_VERSION_MAJOR,
                                         LAYERWATCH_VERSION_MINOR, LAYERWATCH_VERSION_PATCH)},
      {"monitor",
       {{"steps", steps_},
        {"epochs", epochs_},
        {"probe_passes", probe_passes_},
        {"capture_errors", capture_errors_},
        {"epoch_start_step", epoch_start_step_},
        {"previous_epoch_steps", previous_epoch_steps_},
        {"last_probe_step", last_probe_step_},
        {"probe_seconds", probe_seconds_},
        {"probe_exchange_seconds", probe_exchange_seconds_},
        {"decision_wait_seconds", decision_wait_seconds_},
        {"reported_missing_optimizer", reported_missing_optimizer_},
        {"reported_frozen_batchnorm", reported_frozen_batchnorm_},
        {"finished", finished_}}},
      {"frozen", frozen},
      {"cooling", cooling},
      {"units", describe_units()},
      {"options", to_json(options_)},
      {"analyzer", std::move(analyzer_state)}};
  if (distributed_) {
    contents.state["monitor"]["distributed"] = {{"rank", rank()},
                                                {"world_size", world_size()},
                                                {"owners", distributed_->owner},
                                                {"load", distributed_->load}};
  }
  return encode_checkpoint(contents);
}

void Monitor::Impl::load_checkpoint(const std::function<std::string()>& read,
                                    const std::string& source) {
  if (!distributed_) {
    const std::string bytes = read();
    if (is_ranks_checkpoint(bytes)) {
      throw CheckpointError(fmt::format(
          "checkpoint {} was saved by a data-parallel run: call distribute() before load(), "
          "with as many ranks as it had",
          source));
    }
    return load_bytes(bytes, source);
  }
  // Every rank loads its part; a rank that cannot makes every rank throw, naming it.
  std::string error;
  try {
    const std::string bytes = read();
    if (!is_ranks_checkpoint(bytes)) {
      throw CheckpointError(fmt::format(
          "checkpoint {} was saved by one process; a data-parallel run resumes from a checkpoint "
          "its rank 0 saved",
          source));
    }
    const auto parts = decode_ranks(bytes, source);
    if (static_cast<int>(parts.size()) != world_size()) {
      throw CheckpointError(fmt::format(
          "checkpoint {} was saved by {} ranks and this run has {}: resume with {} ranks", source,
          parts.size(), world_size(), parts.size()));
    }
    load_bytes(parts[static_cast<size_t>(rank())], source);
  } catch (const CheckpointError& e) {
    error = e.what();
  }
  const auto errors = distributed_->collectives->all_gather_strings(error, "checkpoint load");
  for (size_t r = 0; r < errors.size(); ++r) {
    if (!errors[r].empty()) {
      throw CheckpointError(fmt::format("rank {} could not resume: {}", r, errors[r]));
    }
  }
}

void Monitor::Impl::load_bytes(std::string_view bytes, const std::string& source) {
  if (analyzer_) {
    throw CheckpointError(fmt::format(
        "cannot resume from {}: this monitor has already started (step(), probe(), flush() or "
        "analyzer() was called); call load() right after watch() and attach_optimizer()",
        source));
  }
  auto contents = decode_checkpoint(bytes, source);
  const auto& state = contents.state;
  const auto corrupt = [&](const std::string& what) {
    return CheckpointError(fmt::format("checkpoint {} is corrupt: {}", source, what));
  };
  // Everything is read and checked before anything changes: a refused checkpoint leaves the
  // monitor as it was.
  std::vector<FrozenLayer> frozen;
  std::vector<uint32_t> checksums;
  std::vector<Cooling> cooling;
  int64_t steps, epochs, probe_passes, capture_errors, epoch_start, previous_epoch, last_probe;
  double probe_seconds, wait_seconds, exchange_seconds;
  bool reported_missing, reported_batchnorm, finished;
  std::map<std::string, int> owners;
  std::vector<double> load;
  try {
    if (state.value("format", std::string()) != kFormat) {
      throw CheckpointError(fmt::format("{} is not a layerwatch monitor checkpoint", source));
    }
    const auto& m = state.at("monitor");
    steps = integer(m.at("steps"));
    epochs = integer(m.at("epochs"));
    probe_passes = integer(m.at("probe_passes"));
    capture_errors = integer(m.at("capture_errors"));
    epoch_start = integer(m.at("epoch_start_step"));
    previous_epoch = integer(m.at("previous_epoch_steps"));
    last_probe = integer(m.at("last_probe_step"));
    probe_seconds = m.at("probe_seconds").get<double>();
    exchange_seconds = m.value("probe_exchange_seconds", 0.0);
    wait_seconds = m.at("decision_wait_seconds").get<double>();
    reported_missing = m.at("reported_missing_optimizer").get<bool>();
    reported_batchnorm = m.at("reported_frozen_batchnorm").get<bool>();
    finished = m.at("finished").get<bool>();
    if (distributed_ && m.contains("distributed")) {
      const auto& d = m.at("distributed");
      if (integer(d.at("rank")) != rank()) throw corrupt("its part is another rank's");
      owners = d.at("owners").get<std::map<std::string, int>>();
      load = d.at("load").get<std::vector<double>>();
    }
    for (const auto& f : state.at("frozen")) {
      frozen.push_back(frozen_from_json(f));
      checksums.push_back(static_cast<uint32_t>(integer(f.at("checksum"))));
    }
    for (const auto& c : state.value("cooling", nlohmann::json::array())) {
      cooling.push_back(Cooling{decision_from_json(c.at("decision")),
                                integer(c.at("start_step")),
                                integer(c.at("length")),
                                {},
                                {}});
      if (cooling.back().length < 1) throw corrupt("a cool-down shorter than one step");
    }
    if (!state.at("units").is_array()) throw corrupt("'units' is not a list");
    if (!state.at("analyzer").is_object()) throw corrupt("'analyzer' is not an object");
    const auto mismatch = units_mismatch(state.at("units"));
    if (!mismatch.empty()) {
      throw CheckpointError(
          fmt::format("checkpoint {} does not fit this monitor: {}", source, mismatch));
    }
  } catch (const nlohmann::json::exception& e) {
    throw corrupt(fmt::format("its state lacks a field or has a wrong type ({})", e.what()));
  } catch (const std::invalid_argument& e) {
    throw corrupt(e.what());
  }
  if (finished) {
    throw CheckpointError(fmt::format(
        "checkpoint {} was saved after finish(): that run is complete, nothing to resume", source));
  }
  if ((!frozen.empty() || !cooling.empty()) && !freeze_controller_) {
    throw CheckpointError(fmt::format(
        "checkpoint {} has frozen or cooling layers ({} first), so the monitor needs the "
        "optimizer to take them out of: call attach_optimizer(optimizer) before load()",
        source, frozen.empty() ? cooling.front().decision.layer : frozen.front().layer));
  }
  for (const auto& c : cooling) {
    if (!target_named(c.decision.layer)) {
      throw corrupt(fmt::format("the cooling layer '{}' is not a freeze unit of this monitor",
                                c.decision.layer));
    }
  }
  for (size_t i = 0; i < frozen.size(); ++i) {
    if (unit_checksum(frozen[i].layer) != checksums[i]) {
      throw CheckpointError(fmt::format(
          "checkpoint {}: the frozen layer '{}' holds other weights in this model than when the "
          "checkpoint was saved; load the model's weights (model->load or torch::load) before "
          "the monitor's, from the same checkpoint",
          source, frozen[i].layer));
    }
  }

  // Apply: the frozen set first (parameters out of the optimizer, BatchNorm in eval, the
  // capture point without autograd), so the optimizer's saved param groups fit it next.
  for (const auto& f : frozen) {
    if (auto* target = target_named(f.layer)) freeze_unit(*target);  // every name was checked
  }
  frozen_ = std::move(frozen);
  cooling_.clear();
  for (const auto& c : cooling) start_cooling(c.decision, c.start_step, c.length, false);
  steps_ = steps;
  epochs_ = epochs;
  probe_passes_ = probe_passes;
  capture_errors_ = capture_errors;
  epoch_start_step_ = epoch_start;
  previous_epoch_steps_ = previous_epoch;
  last_probe_step_ = last_probe;
  probe_seconds_ = probe_seconds;
  probe_exchange_seconds_ = exchange_seconds;
  decision_wait_seconds_ = wait_seconds;
  reported_missing_optimizer_ = reported_missing;
  reported_frozen_batchnorm_ = reported_batchnorm;
  if (distributed_ && !owners.empty()) {
    distributed_->owner = std::move(owners);
    if (load.size() == distributed_->load.size()) distributed_->load = std::move(load);
  }

  CheckpointContents analyzer_part{state.at("analyzer"), std::move(contents.snapshots)};
  start(&analyzer_part);
  std::vector<std::string> changed;
  changed_options(state.value("options", nlohmann::json::object()), to_json(options_), "",
                  &changed);
  std::vector<std::string> frozen_names;
  for (const auto& f : frozen_) frozen_names.push_back(f.layer);
  for (const auto& c : cooling_) frozen_names.push_back(c.decision.layer + " (cooling down)");
  report(
      MonitorEvent::Kind::kNote,
      fmt::format("resumed from {} at step {}, epoch {}: {} snapshot(s) restored, frozen: "
                  "{}{}",
                  source, steps_, epochs_, analyzer_part.snapshots.size(),
                  frozen_names.empty() ? "none" : fmt::format("{}", fmt::join(frozen_names, ", ")),
                  changed.empty() ? ""
                                  : fmt::format("; options changed since the checkpoint: {}",
                                                fmt::join(changed, ", "))));
}

// ---- the public face ----------------------------------------------------------------------

void Monitor::save(const std::string& path) {
  std::string bytes;
  impl_->among_ranks([&] { bytes = impl_->save_bytes(); });
  if (impl_->rank() == 0) write_file_atomically(path, bytes);
}

void Monitor::save(torch::serialize::OutputArchive& archive) {
  std::string bytes;
  impl_->among_ranks([&] { bytes = impl_->save_bytes(); });
  if (impl_->rank() != 0) return;
  auto tensor = torch::empty({static_cast<int64_t>(bytes.size())}, torch::kUInt8);
  std::memcpy(tensor.data_ptr(), bytes.data(), bytes.size());
  archive.write(kArchiveKey, tensor);
}

void Monitor::load(const std::string& path) {
  const auto read = [&] {
    try {
      return io::read_file_bytes(path);
    } catch (const std::exception& e) {
      throw CheckpointError(fmt::format("cannot resume from a checkpoint: {}", e.what()));
    }
  };
  impl_->among_ranks([&] { impl_->load_checkpoint(read, fmt::format("'{}'", path)); });
}

void Monitor::load(torch::serialize::InputArchive& archive) {
  const std::string source = fmt::format("archive key '{}'", kArchiveKey);
  const auto read = [&] {
    torch::Tensor tensor;
    bool found = false;
    try {
      found = archive.try_read(kArchiveKey, tensor);
    } catch (const std::exception& e) {
      throw CheckpointError(fmt::format("cannot read {}: {}", source, e.what()));
    }
    if (!found) {
      throw CheckpointError(fmt::format(
          "the archive holds no monitor state ({} is missing): save it with monitor.save(archive)",
          source));
    }
    if (tensor.scalar_type() != torch::kUInt8 || tensor.dim() != 1) {
      throw CheckpointError(
          fmt::format("{} is not a byte tensor: not a monitor checkpoint", source));
    }
    tensor = tensor.contiguous();
    return std::string(static_cast<const char*>(tensor.data_ptr()),
                       static_cast<size_t>(tensor.numel()));
  };
  impl_->among_ranks([&] { impl_->load_checkpoint(read, source); });
}

}  // namespace layerwatch

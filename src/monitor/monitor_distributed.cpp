// Monitor's data-parallel side: the consistency check, the sharded probe pass, the exchange of
// records and freeze decisions with rank 0, and the gradient all-reduce.

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>

#include "distributed/flat_buckets.h"
#include "layerwatch/similarity/conv_layout.h"
#include "monitor/distributed_state.h"
#include "monitor/monitor_impl.h"
#include "sinks/tfrecord.h"

namespace layerwatch {
namespace {

// path → value of every leaf of `value`, paths dotted ("options.analysis.metric").
void flatten(const nlohmann::json& value, const std::string& path,
             std::map<std::string, std::string>& out) {
  if (value.is_object() || value.is_array()) {
    if (value.empty()) out[path] = value.dump();
    for (auto it = value.begin(); it != value.end(); ++it) {
      const std::string key = value.is_object() ? it.key() : std::to_string(&*it - &value[0]);
      flatten(*it, path.empty() ? key : path + "." + key, out);
    }
    return;
  }
  out[path] = value.dump();
}

// Up to three of the leaves where `theirs` differs from `ours`.
std::string differences(const nlohmann::json& ours, const nlohmann::json& theirs, int rank) {
  std::map<std::string, std::string> a, b;
  flatten(ours, "", a);
  flatten(theirs, "", b);
  std::vector<std::string> said;
  std::set<std::string> keys;
  for (const auto& [k, v] : a) keys.insert(k);
  for (const auto& [k, v] : b) keys.insert(k);
  int more = 0;
  for (const auto& k : keys) {
    const auto x = a.find(k), y = b.find(k);
    const std::string on0 = x == a.end() ? "nothing" : x->second;
    const std::string here = y == b.end() ? "nothing" : y->second;
    if (on0 == here) continue;
    if (said.size() < 3) {
      said.push_back(fmt::format("{} is {} on rank {} but {} on rank 0", k, here, rank, on0));
    } else {
      ++more;
    }
  }
  if (more > 0) said.push_back(fmt::format("{} more", more));
  return fmt::to_string(fmt::join(said, "; "));
}

std::vector<std::string> tensor_shapes(
    const torch::OrderedDict<std::string, torch::Tensor>& tensors) {
  std::vector<std::string> out;
  for (const auto& item : tensors) {
    out.push_back(fmt::format("{} {} [{}]", item.key(), c10::toString(item.value().scalar_type()),
                              fmt::join(item.value().sizes(), ",")));
  }
  return out;
}

}  // namespace

bool Monitor::Impl::speaks() const { return !distributed_ || distributed_->rank() == 0; }

int Monitor::Impl::rank() const { return distributed_ ? distributed_->rank() : 0; }

int Monitor::Impl::world_size() const { return distributed_ ? distributed_->size() : 1; }

nlohmann::json Monitor::Impl::rank_description() const {
  auto options = to_json(options_);
  for (const char* local : {"log_dir", "sinks", "report"}) options.erase(local);
  std::vector<std::string> units;
  for (const auto& t : freeze_targets_) units.push_back(t.name);
  return {{"watched_layers", units},
          {"options", options},
          {"parameters", tensor_shapes(model_->named_parameters())},
          {"buffers", tensor_shapes(model_->named_buffers())},
          {"probe_set", probe_inputs_.defined()
                            ? fmt::format("{} [{}]", c10::toString(probe_inputs_.scalar_type()),
                                          fmt::join(probe_inputs_.sizes(), ","))
                            : std::string("undefined")},
          {"optimizer_attached", freeze_controller_ != nullptr}};
}

void Monitor::Impl::check_ranks_agree() {
  const auto mine = rank_description();
  std::string hashes;
  for (const auto& [key, value] : mine.items()) {
    const std::string text = value.dump();
    hashes += fmt::format("{:08x} ", detail::crc32c(text.data(), text.size()));
  }
  const auto all = distributed_->collectives->all_gather_strings(hashes, "consistency check");
  if (std::all_of(all.begin(), all.end(), [&](const std::string& h) { return h == all[0]; })) {
    return;
  }
  const auto texts =
      distributed_->collectives->all_gather_strings(mine.dump(), "consistency check");
  const auto first = nlohmann::json::parse(texts[0]);
  std::vector<std::string> problems;
  for (size_t r = 1; r < texts.size(); ++r) {
    if (all[r] == all[0]) continue;
    problems.push_back(differences(first, nlohmann::json::parse(texts[r]), static_cast<int>(r)));
  }
  throw DistributedError(fmt::format(
      "rank {} of {}: the ranks are not set up alike, so they cannot train together: {}. Start "
      "every rank with the same model, watched layers, options and probe set",
      rank(), world_size(), fmt::join(problems, "; ")));
}

void Monitor::Impl::distribute(const c10::intrusive_ptr<c10d::ProcessGroup>& group,
                               DistributedOptions options) {
  if (!group) throw std::invalid_argument("Monitor::distribute needs a process group (got null)");
  if (distributed_) throw std::logic_error("Monitor::distribute was already called");
  if (analyzer_) {
    throw std::logic_error(
        "call Monitor::distribute before the first step(), probe() or analyzer(): the "
        "analyzer has started with this rank's own sinks");
  }
  auto state = std::make_unique<DistributedState>();
  state->collectives = std::make_unique<detail::Collectives>(group, options.store());
  state->options = std::move(options);
  state->load.assign(static_cast<size_t>(state->collectives->size()), 0.0);
  const auto& probing = options_.analysis().probing();
  state->spread = !options_.analysis().layer_matrix() && probing.class_logits().empty();
  distributed_ = std::move(state);
  try {
    check_ranks_agree();
    if (distributed_->options.broadcast_initial_weights()) {
      std::vector<torch::Tensor> tensors;
      for (const auto& p : model_->parameters()) tensors.push_back(p);
      for (const auto& b : model_->buffers()) tensors.push_back(b);
      detail::broadcast_tensors(*distributed_->collectives, tensors, 0,
                                distributed_->options.bucket_bytes(), "initial weights broadcast");
    }
  } catch (...) {
    distributed_.reset();
    throw;
  }
  if (rank() != 0) {
    // One set of logs: rank 0's. This rank's analyzer writes only to the outbox.
    options_.sinks({});
    options_.report(false);
    distributed_->outbox = std::make_shared<detail::OutboxSink>();
    extra_sinks_ = {distributed_->outbox};
    return;
  }
  const int64_t total = probing_ ? probe_inputs_.size(0) : 0;
  const int64_t chunks =
      (total + options_.probe().batch_size() - 1) / options_.probe().batch_size();
  report(MonitorEvent::Kind::kNote,
         fmt::format("distributed over {} ranks ({}): each rank runs its share of the probe "
                     "set's {} chunks; {}; the logs are rank 0's",
                     world_size(), group->getBackendName(), chunks,
                     distributed_->spread
                         ? "each layer is analysed on one rank"
                         : "rank 0 analyses every layer (layer_matrix or class_logits compares "
                           "layers with each other)"));
}

std::pair<int64_t, int64_t> Monitor::Impl::probe_chunks(int64_t chunks, int r) const {
  const int w = world_size();
  return {chunks * r / w, chunks * (r + 1) / w};
}

void Monitor::Impl::assign_owners(const std::vector<std::pair<std::string, double>>& costs) {
  auto& d = *distributed_;
  std::vector<std::pair<std::string, double>> fresh;
  for (const auto& c : costs) {
    if (!d.owner.count(c.first)) fresh.push_back(c);
  }
  if (fresh.empty()) return;
  // Largest first, each to the least loaded rank: every rank computes the same assignment.
  std::stable_sort(fresh.begin(), fresh.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  for (const auto& [layer, cost] : fresh) {
    const int r =
        d.spread ? static_cast<int>(std::min_element(d.load.begin(), d.load.end()) - d.load.begin())
                 : 0;
    d.owner[layer] = r;
    d.load[static_cast<size_t>(r)] += cost;
  }
  if (!speaks()) return;
  std::vector<std::string> parts;
  for (int r = 0; r < world_size(); ++r) {
    std::vector<std::string> layers;
    for (const auto& [layer, owner] : d.owner) {
      if (owner == r) layers.push_back(layer);
    }
    parts.push_back(fmt::format("rank {}: {}", r,
                                layers.empty() ? "none" : fmt::to_string(fmt::join(layers, ", "))));
  }
  report(MonitorEvent::Kind::kNote, fmt::format("layers analysed by: {}", fmt::join(parts, "; ")));
}

bool Monitor::Impl::share_probe_pass(detail::ProbeCapture::Result result,
                                     const std::string& pass_error, int64_t chunks_here) {
  auto& d = *distributed_;
  const int w = world_size(), me = rank();
  nlohmann::json meta = {
      {"error", pass_error}, {"chunks", chunks_here}, {"layers", nlohmann::json::array()}};
  for (const auto& s : result.snapshots) {
    meta["layers"].push_back(
        {{"layer", s.layer}, {"features", s.features()}, {"per_example", s.rows_per_example}});
  }
  for (const auto& f : result.failures) {
    meta["layers"].push_back(
        {{"layer", f.layer}, {"status", static_cast<int>(f.status)}, {"message", f.message}});
  }
  std::vector<nlohmann::json> metas;
  for (const auto& text : d.collectives->all_gather_strings(meta.dump(), "probe pass layout")) {
    metas.push_back(nlohmann::json::parse(text));
  }
  for (int r = 0; r < w; ++r) {
    const auto error = metas[r]["error"].get<std::string>();
    if (error.empty()) continue;
    ++capture_errors_;
    if (speaks()) {
      report(
          MonitorEvent::Kind::kCaptureError,
          fmt::format("probe pass at step {} failed on rank {} and was skipped on every rank: {}",
                      steps_, r, error));
    }
    return false;
  }
  // The layers in order of first capture, and each rank's entry for them.
  std::vector<std::string> order;
  for (const auto& m : metas) {
    for (const auto& l : m["layers"]) {
      const auto name = l["layer"].get<std::string>();
      if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
    }
  }
  const int64_t total = probe_inputs_.size(0), batch = options_.probe().batch_size();
  const int64_t chunks = (total + batch - 1) / batch;
  std::vector<std::pair<std::string, double>> costs;
  std::vector<std::string> usable;
  std::map<std::string, std::pair<int64_t, int64_t>> shapes;  // features, rows per example
  for (const auto& name : order) {
    std::string problem;
    Status status = Status::kError;
    int64_t features = -1, per_example = -1;
    for (int r = 0; r < w && problem.empty(); ++r) {
      if (metas[r]["chunks"].get<int64_t>() == 0) continue;
      const auto& layers = metas[r]["layers"];
      const auto it = std::find_if(layers.begin(), layers.end(),
                                   [&](const nlohmann::json& l) { return l["layer"] == name; });
      if (it == layers.end()) {
        problem = fmt::format("rank {} did not capture layer '{}'", r, name);
      } else if (it->contains("message")) {
        status = static_cast<Status>((*it)["status"].get<int>());
        problem = w > 1 ? fmt::format("rank {}: {}", r, (*it)["message"].get<std::string>())
                        : (*it)["message"].get<std::string>();
      } else if (features >= 0 &&
                 ((*it)["features"] != features || (*it)["per_example"] != per_example)) {
        problem = fmt::format("layer '{}' has another shape on rank {} than on the ranks before",
                              name, r);
      } else {
        features = (*it)["features"].get<int64_t>();
        per_example = (*it)["per_example"].get<int64_t>();
      }
    }
    if (!problem.empty() || features < 0) {
      if (status == Status::kError) ++capture_errors_;
      if (!speaks()) continue;
      ConvergenceRecord record;
      record.step = steps_;
      record.epoch = epochs_;
      record.probe_index = probe_passes_ - 1;
      record.layer = name;
      record.reference = options_.analysis().reference();
      record.metric = options_.analysis().metric();
      record.status = status;
      record.message = problem.empty() ? "no rank captured it" : problem;
      analyzer_->add_record(std::move(record));
      continue;
    }
    usable.push_back(name);
    shapes[name] = {features, per_example};
    const double rows =
        static_cast<double>(std::min<int64_t>(total * per_example, options_.probe().sample_cap()));
    const double f = static_cast<double>(features);
    costs.emplace_back(name, rows * f * f + f * f * f);
  }
  if (speaks() && !costs.empty() && probe_passes_ == 1) analyzer_->set_layer_order(usable);
  assign_owners(costs);

  // Where each usable layer's rows lie on each rank, then one gather per analysing rank that
  // carries all of its layers.
  struct Plan {
    std::string layer;
    int owner = 0;
    int64_t features = 0, per_example = 1, longest = 1, offset = 0;  // offset in the buffer
    const std::vector<int64_t>* selected = nullptr;
    std::vector<std::pair<int64_t, int64_t>> span;  // per rank: first selected row, count
  };
  std::vector<Plan> plans;
  for (const auto& name : usable) {
    Plan plan;
    plan.layer = name;
    plan.owner = d.owner.at(name);
    std::tie(plan.features, plan.per_example) = shapes.at(name);
    plan.selected = &d.sampled_rows(total * plan.per_example, options_.probe().sample_cap(),
                                    options_.probe().seed());
    const auto& selected = *plan.selected;
    for (int r = 0; r < w; ++r) {
      const auto [first, last] = probe_chunks(chunks, r);
      const int64_t begin = std::min(total, first * batch) * plan.per_example;
      const int64_t end = std::min(total, last * batch) * plan.per_example;
      const int64_t lo =
          std::lower_bound(selected.begin(), selected.end(), begin) - selected.begin();
      const int64_t hi = std::lower_bound(selected.begin(), selected.end(), end) - selected.begin();
      plan.span.emplace_back(lo, hi - lo);
      plan.longest = std::max(plan.longest, hi - lo);
    }
    plans.push_back(std::move(plan));
  }
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  std::map<std::string, Snapshot> owned_by_name;
  for (int owner = 0; owner < w; ++owner) {
    int64_t floats = 0;
    for (auto& plan : plans) {
      if (plan.owner != owner) continue;
      plan.offset = floats;
      floats += plan.longest * plan.features;
    }
    if (floats == 0) continue;
    torch::Tensor buffer = torch::zeros({floats}, torch::kFloat);
    for (const auto& plan : plans) {
      if (plan.owner != owner) continue;
      const auto [lo, n] = plan.span[static_cast<size_t>(me)];
      const auto mine = std::find_if(result.snapshots.begin(), result.snapshots.end(),
                                     [&](const Snapshot& s) { return s.layer == plan.layer; });
      if (n > 0 && mine != result.snapshots.end()) {
        Eigen::Map<RowMajor>(buffer.data_ptr<float>() + plan.offset, n, plan.features) =
            mine->values.middleRows(lo, n);
      }
    }
    const auto buffers = d.collectives->gather(buffer, owner, "probe pass gather");
    if (me != owner) continue;
    for (const auto& plan : plans) {
      if (plan.owner != owner) continue;
      const auto mine = std::find_if(result.snapshots.begin(), result.snapshots.end(),
                                     [&](const Snapshot& s) { return s.layer == plan.layer; });
      Snapshot s;
      if (mine != result.snapshots.end()) {
        s = std::move(*mine);
      } else {
        s.layer = plan.layer;
        s.step = steps_;
        s.epoch = epochs_;
        s.probe_index = probe_passes_ - 1;
        s.rows_per_example = plan.per_example;
        s.values.resize(static_cast<Eigen::Index>(plan.selected->size()), plan.features);
      }
      for (int r = 0; r < w; ++r) {
        const auto [r_lo, r_n] = plan.span[static_cast<size_t>(r)];
        if (r == me || r_n == 0) continue;
        s.values.middleRows(r_lo, r_n) = Eigen::Map<const RowMajor>(
            buffers[static_cast<size_t>(r)].data_ptr<float>() + plan.offset, r_n, plan.features);
      }
      if (options_.analysis().probing().enabled() &&
          static_cast<int64_t>(plan.selected->size()) != total * plan.per_example) {
        s.sampled_rows = *plan.selected;
      }
      owned_by_name[plan.layer] = std::move(s);
    }
  }
  std::vector<Snapshot> owned;  // in forward order
  for (const auto& name : usable) {
    auto it = owned_by_name.find(name);
    if (it != owned_by_name.end()) owned.push_back(std::move(it->second));
  }
  if (speaks() && usable.empty() && order.empty() && probe_passes_ == 1) {
    report(MonitorEvent::Kind::kCaptureError,
           "the probe pass captured no layer: watch a Sequential, register Tap modules or call "
           "layerwatch::tap() in forward");
  }
  if (!owned.empty()) analyzer_->add_probe_pass(std::move(owned));
  return true;
}

void Monitor::Impl::sync_ranks(bool wait, bool epoch_end) {
  auto& d = *distributed_;
  if (wait) analyzer_->flush();
  const auto outboxes =
      d.collectives->all_gather_strings(d.outbox ? d.outbox->take() : "", "record exchange");
  std::string decisions;
  if (rank() == 0) {
    for (int r = 1; r < world_size(); ++r) {
      detail::deliver_outbox(outboxes[static_cast<size_t>(r)], r, *analyzer_);
    }
    if (epoch_end) analyzer_->end_epoch(epochs_, steps_);
    if (freeze_policy_) {
      if (options_.freeze().wait_for_decisions()) analyzer_->flush();
      auto list = nlohmann::json::array();
      for (const auto& decision : freeze_policy_->take_decisions())
        list.push_back(to_json(decision));
      decisions = list.dump();
    }
  }
  if (!freeze_policy_) return;
  std::vector<FreezeDecision> applied;
  for (const auto& decision :
       nlohmann::json::parse(d.collectives->broadcast_string(decisions, 0, "freeze decisions"))) {
    applied.push_back(decision_from_json(decision));
  }
  apply_decisions(applied);
}

void Monitor::Impl::finish_ranks() {
  auto& d = *distributed_;
  sync_ranks(true, false);
  if (rank() != 0) analyzer().finish();  // the final pass of its layers, into the outbox
  const auto outboxes =
      d.collectives->all_gather_strings(d.outbox ? d.outbox->take() : "", "final records");
  if (rank() != 0) return;
  for (int r = 1; r < world_size(); ++r) {
    detail::deliver_outbox(outboxes[static_cast<size_t>(r)], r, *analyzer_);
  }
  analyzer().finish();
}

void Monitor::Impl::among_ranks(const std::function<void()>& call) {
  try {
    call();
  } catch (const DistributedError& e) {
    distributed_failure(e.what());
    throw;
  }
}

void Monitor::Impl::distributed_failure(const std::string& message) {
  try {
    report(MonitorEvent::Kind::kNote, message);
    if (analyzer_) analyzer_->flush();
  } catch (const std::exception& e) {
    fmt::print(stderr, "layerwatch: the logs could not be flushed: {}\n", e.what());
  }
}

bool Monitor::Impl::any_rank(bool flag) {
  if (!distributed_) return flag;
  std::vector<torch::Tensor> count{torch::tensor({flag ? 1 : 0}, torch::kInt)};
  distributed_->collectives->all_reduce_sum(count, "stop agreement");
  return count[0].item<int>() > 0;
}

std::vector<torch::Tensor> Monitor::Impl::parameters_to_reduce() const {
  std::vector<torch::Tensor> out;
  for (const auto& p : model_->parameters()) {
    if (p.requires_grad()) out.push_back(p);
  }
  return out;
}

void Monitor::Impl::all_reduce_gradients() {
  if (!distributed_) return;
  auto& d = *distributed_;
  const auto parameters = parameters_to_reduce();
  const int64_t bytes = detail::gradient_bytes(parameters);
  if (d.reduce_bytes < 0 && speaks()) {
    report(MonitorEvent::Kind::kNote,
           fmt::format("gradient all-reduce: {} parameter tensors, {} bytes per step",
                       parameters.size(), bytes));
  }
  d.reduce_bytes = bytes;
  detail::all_reduce_gradients(*d.collectives, parameters, d.options.bucket_bytes());
  if (d.options.broadcast_buffers()) {
    std::vector<torch::Tensor> buffers;
    for (const auto& b : model_->buffers()) buffers.push_back(b);
    detail::broadcast_tensors(*d.collectives, buffers, 0, d.options.bucket_bytes(),
                              "buffer broadcast");
  }
}

}  // namespace layerwatch

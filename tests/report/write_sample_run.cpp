// Writes a small synthetic run into a directory through the real sinks (JSONL, CSV and
// TensorBoard), as a monitored training run would: records against the previous and first
// snapshots each epoch, freezes, a non-finite record, the final pass and the layers × layers
// matrix. The report and TensorBoard tests read it back.
//
//   write_sample_run DIR

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "sinks/csv_sink.h"
#include "sinks/jsonl_sink.h"
#include "sinks/tensorboard_sink.h"

namespace {

using layerwatch::ConvergenceRecord;
using layerwatch::MonitorEvent;
using layerwatch::Reference;

constexpr int kEpochs = 5;
constexpr int64_t kStepsPerEpoch = 100;
// One name needs escaping in HTML and XML; the tests check it arrives intact.
const std::vector<std::string> kLayers = {"features.0", "features.1", "block<2>&co",
                                          "classifier.0"};

ConvergenceRecord record(const std::string& layer, int64_t step, int64_t epoch, Reference reference,
                         double value) {
  ConvergenceRecord r;
  r.layer = layer;
  r.step = step;
  r.epoch = epoch;
  r.probe_index = epoch;
  r.reference = reference;
  r.reference_step = reference == Reference::kFirst ? 0 : step - kStepsPerEpoch;
  r.reference_epoch = reference == Reference::kFirst ? 0 : epoch - 1;
  r.value = value;
  r.kept_dims = {8, 8};
  return r;
}

// Lower layers converge faster: 1 − a·e^{−epoch·rate(layer)}.
double convergence(std::size_t layer, int epoch) {
  return 1 - 0.5 * std::exp(-static_cast<double>(epoch) * (1.2 - 0.2 * layer));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: write_sample_run DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  try {
    std::vector<std::unique_ptr<layerwatch::Sink>> sinks;
    sinks.push_back(std::make_unique<layerwatch::JsonlSink>(dir + "/convergence.jsonl"));
    sinks.push_back(std::make_unique<layerwatch::CsvSink>(dir + "/convergence.csv"));
    sinks.push_back(std::make_unique<layerwatch::TensorBoardSink>(dir));
    const auto each = [&](const auto& call) {
      for (auto& sink : sinks) call(*sink);
    };
    each([](layerwatch::Sink& s) { s.open(); });
    for (int epoch = 1; epoch <= kEpochs; ++epoch) {
      const int64_t step = epoch * kStepsPerEpoch;
      for (std::size_t i = 0; i < kLayers.size(); ++i) {
        auto r = record(kLayers[i], step, epoch, Reference::kPrevious, convergence(i, epoch));
        if (i == 3 && epoch == 2) {  // one layer's activations went non-finite once
          r.status = layerwatch::Status::kNonFinite;
          r.value = std::nan("");
          r.message = "activations contain NaN or Inf";
        }
        each([&](layerwatch::Sink& s) { s.write(r); });
        const auto first = record(kLayers[i], step, epoch, Reference::kFirst, 1 - 0.1 * epoch);
        each([&](layerwatch::Sink& s) { s.write(first); });
      }
      // Probes: accuracy rising with depth and training, control accuracy flat; class-logit
      // CCA rising per class at its own pace.
      for (std::size_t i = 0; i + 1 < kLayers.size(); ++i) {
        layerwatch::ProbeRecord p;
        p.step = step;
        p.epoch = epoch;
        p.probe_index = epoch;
        p.layer = kLayers[i];
        p.accuracy = 0.5 + 0.4 * (1 - std::exp(-0.5 * epoch * (i + 1)));
        p.control_accuracy = 0.35 - 0.05 * static_cast<double>(i);
        p.selectivity = p.accuracy - p.control_accuracy;
        p.train_accuracy = p.accuracy + 0.03;
        each([&](layerwatch::Sink& s) { s.write_probe(p); });
        p.kind = layerwatch::ProbeRecord::Kind::kClassLogit;
        for (int c = 0; c < 4; ++c) {
          p.class_index = c;
          p.value = std::min(1.0, 0.2 + 0.15 * epoch * (i + 1) / (c + 1.0));
          each([&](layerwatch::Sink& s) { s.write_probe(p); });
        }
      }
      if (epoch == 2 || epoch == 3) {
        MonitorEvent freeze;
        freeze.kind = MonitorEvent::Kind::kFreeze;
        freeze.step = step;
        freeze.epoch = epoch;
        freeze.layer = kLayers[epoch - 2];
        freeze.value = convergence(epoch - 2, epoch);
        freeze.message = fmt::format("adaptive: {} converged", freeze.layer);
        each([&](layerwatch::Sink& s) { s.write_event(freeze); });
      }
      each([&](layerwatch::Sink& s) { s.end_epoch(epoch); });
    }
    // The final pass: every snapshot against the layer's final one, then the matrix.
    for (std::size_t i = 0; i < kLayers.size(); ++i) {
      for (int epoch = 0; epoch < kEpochs; ++epoch) {
        auto r = record(kLayers[i], epoch * kStepsPerEpoch, epoch, Reference::kFinal,
                        0.4 + 0.6 * std::pow(static_cast<double>(epoch) / kEpochs, 1.0 / (i + 1)));
        r.reference_step = kEpochs * kStepsPerEpoch;
        r.reference_epoch = kEpochs;
        each([&](layerwatch::Sink& s) { s.write(r); });
      }
    }
    for (std::size_t i = 0; i < kLayers.size(); ++i) {
      for (std::size_t j = 0; j < kLayers.size(); ++j) {
        auto r = record(kLayers[i], kEpochs * kStepsPerEpoch, kEpochs, Reference::kFinal,
                        i == j ? 1.0 : 1.0 - 0.2 * std::abs(static_cast<double>(i) - j));
        r.reference_layer = kLayers[j];
        each([&](layerwatch::Sink& s) { s.write(r); });
      }
    }
    each([](layerwatch::Sink& s) { s.close(); });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "write_sample_run: %s\n", e.what());
    return 1;
  }
  return 0;
}

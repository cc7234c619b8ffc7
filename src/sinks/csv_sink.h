#pragma once
/// @file
/// `CsvSink`: records in long format, one row per record, with a header:
///
///   step,epoch,layer,reference,metric,value,status
///   1407,3,features.0,previous,svcca,0.9712,ok
///
/// `value` is empty when it is NaN. Rows are written whole and flushed at every epoch end.
/// Records of the layers × layers matrix name their reference layer in `reference` as
/// "final:<layer>".

#include <cstdio>
#include <optional>
#include <string>

#include "layerwatch/sinks/sink.h"

namespace layerwatch {

/// CSV sink. The file is truncated at `open()`; its directory is created if missing.
class CsvSink : public Sink {
 public:
  explicit CsvSink(std::string path);
  ~CsvSink() override;

  std::string name() const override { return "csv:" + path_; }
  /// Throws `std::runtime_error` naming the path and the OS error if it cannot be written.
  void open() override;
  void write(const ConvergenceRecord& record) override;
  void end_epoch(int64_t epoch) override;
  void flush() override;
  void close() override;
  /// The file\'s path and size.
  nlohmann::json save_state() override;
  void restore_state(const nlohmann::json& state) override;

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  std::optional<uint64_t> resume_;
};

}  // namespace layerwatch

#pragma once
// Runs the built `layerwatch` command with arguments and collects its exit code and output.

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

namespace layerwatch::testing {

struct CommandResult {
  int code;         ///< Exit code (−1 if the process did not exit normally).
  std::string out;  ///< stdout
  std::string err;  ///< stderr
};

/// `build/bin/layerwatch ARGS`, through the shell.
inline CommandResult run_layerwatch(const std::string& args) {
  // One file per test process: ctest runs the tests of this binary in parallel processes.
  const std::string err_file =
      ::testing::TempDir() + "/layerwatch_cli_stderr_" + std::to_string(getpid()) + ".txt";
  const std::string cmd =
      std::string(LAYERWATCH_BIN_DIR) + "/layerwatch " + args + " 2>" + err_file;
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  size_t got;
  while ((got = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), got);
  const int status = pclose(pipe);
  std::string err;
  {
    std::ifstream in(err_file);
    err.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::remove(err_file.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out, err};
}

}  // namespace layerwatch::testing

// The conventional environment, the Gloo group, and the local launcher of several ranks.

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>

#include "layerwatch/torch/distributed.h"
#include "torch/error_text.h"

namespace layerwatch {
namespace {

// The variable's integer value, `fallback` when it is unset; throws naming it when malformed
// or below `lowest`.
int env_int(const char* name, int fallback, int lowest) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (errno != 0 || *end != '\0' || value < lowest || value > 1 << 20) {
    throw std::invalid_argument(fmt::format("{}='{}' is not an integer ≥ {}", name, text, lowest));
  }
  return static_cast<int>(value);
}

bool is_loopback(const std::string& address) {
  return address == "localhost" || address.rfind("127.", 0) == 0 || address == "::1";
}

// A TCP port free on 127.0.0.1 now (the kernel's pick).
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(fmt::format("socket(): {}", std::strerror(errno)));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const std::string error = std::strerror(errno);
    close(fd);
    throw std::runtime_error(fmt::format("cannot find a free port on 127.0.0.1: {}", error));
  }
  close(fd);
  return ntohs(address.sin_port);
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with code {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return fmt::format("was killed by signal {} ({})", WTERMSIG(status),
                       strsignal(WTERMSIG(status)));
  }
  return "ended";
}

volatile sig_atomic_t g_stop_signal = 0;
extern "C" void note_stop_signal(int signal) { g_stop_signal = signal; }

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

bool DistributedEnvironment::launched() {
  const char* world = std::getenv("WORLD_SIZE");
  return world && *world;
}

DistributedEnvironment DistributedEnvironment::from_environment() {
  DistributedEnvironment env;
  env.world_size = env_int("WORLD_SIZE", 1, 1);
  env.rank = env_int("RANK", 0, 0);
  env.local_rank = env_int("LOCAL_RANK", env.rank, 0);
  if (env.rank >= env.world_size) {
    throw std::invalid_argument(
        fmt::format("RANK={} is not below WORLD_SIZE={}", env.rank, env.world_size));
  }
  if (const char* addr = std::getenv("MASTER_ADDR"); addr && *addr) env.master_addr = addr;
  env.master_port = env_int("MASTER_PORT", 29500, 1);
  if (env.master_port > 65535) {
    throw std::invalid_argument(fmt::format("MASTER_PORT={} is not a port", env.master_port));
  }
  return env;
}

GlooGroup make_gloo_group(const DistributedEnvironment& env, std::chrono::milliseconds timeout) {
  GlooGroup group;
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(env.master_port);
    store_options.isServer = env.rank == 0;
    store_options.numWorkers = static_cast<size_t>(env.world_size);
    store_options.waitWorkers = true;
    store_options.timeout = timeout;
    group.store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    } else if (is_loopback(env.master_addr)) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    group.process_group = c10::make_intrusive<c10d::ProcessGroupGloo>(
        c10::make_intrusive<c10d::PrefixStore>("gloo", group.store), env.rank, env.world_size,
        options);
  } catch (const std::exception& e) {
    throw DistributedError(
        fmt::format("rank {} of {}: cannot join the process group at {}:{} within {} s: {}",
                    env.rank, env.world_size, env.master_addr, env.master_port,
                    std::chrono::duration<double>(timeout).count(), detail::error_text(e)));
  }
  return group;
}

int threads_per_local_rank() {
  const char* text = std::getenv("LAYERWATCH_THREADS_PER_RANK");
  return text ? std::max(0, std::atoi(text)) : 0;
}

int run_local_ranks(int nproc, int argc, char** argv, std::chrono::milliseconds grace) {
  if (nproc < 1) throw std::invalid_argument(fmt::format("--nproc {} is not ≥ 1", nproc));
  (void)argc;
  const int port = free_port();
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const int threads = std::max(1, static_cast<int>(cores) / nproc);
  const pid_t launcher = getpid();
  std::map<pid_t, int> ranks;  // running children
  for (int r = 0; r < nproc; ++r) {
    const pid_t pid = fork();
    if (pid < 0) {
      for (const auto& [child, rank] : ranks) kill(child, SIGKILL);
      throw std::runtime_error(fmt::format("fork(): {}", std::strerror(errno)));
    }
    if (pid == 0) {
      // The child dies with the launcher, and never outlives it as an orphan.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != launcher) _exit(1);
      setenv("RANK", std::to_string(r).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      setenv("MASTER_ADDR", "127.0.0.1", 1);
      setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      setenv("LAYERWATCH_THREADS_PER_RANK", std::to_string(threads).c_str(), 1);
      execv("/proc/self/exe", argv);
      fmt::print(stderr, "layerwatch: rank {}: cannot start {}: {}\n", r, argv[0],
                 std::strerror(errno));
      _exit(127);
    }
    ranks[pid] = r;
  }
  // Ctrl-C or SIGTERM to the launcher reaches every rank as SIGINT, which ranks that check for
  // it (Monitor::any_rank) take at the same step; the launcher itself waits for them.
  struct sigaction action {};
  action.sa_handler = note_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  bool forwarded = false;
  int result = 0;
  auto deadline = std::chrono::steady_clock::time_point::max();
  while (!ranks.empty()) {
    if (g_stop_signal != 0 && !forwarded) {
      forwarded = true;
      for (const auto& [child, rank] : ranks) kill(child, SIGINT);
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, deadline == deadline.max() ? 0 : WNOHANG);
    if (pid > 0) {
      const int rank = ranks[pid];
      ranks.erase(pid);
      if (exit_code(status) != 0 && result == 0) {
        result = exit_code(status);
        fmt::print(stderr, "layerwatch: rank {} {}; the other ranks get {} s to end\n", rank,
                   describe_exit(status), std::chrono::duration<double>(grace).count());
        deadline = std::chrono::steady_clock::now() + grace;
      }
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      for (const auto& [child, rank] : ranks) {
        fmt::print(stderr, "layerwatch: rank {} (pid {}) did not end; killing it\n", rank, child);
        kill(child, SIGKILL);
      }
      deadline = deadline.max();  // reap them blocking
      continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return result;
}

}  // namespace layerwatch

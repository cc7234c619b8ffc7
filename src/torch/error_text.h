#pragma once
// A LibTorch error's message without its C++ backtrace (c10::Error::what() appends one), or
// any other exception's what().

#include <c10/util/Exception.h>

#include <exception>
#include <string>

namespace layerwatch::detail {

inline std::string error_text(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) {
    return c10_error->what_without_backtrace();
  }
  return e.what();
}

}  // namespace layerwatch::detail

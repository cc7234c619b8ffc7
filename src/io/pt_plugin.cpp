// The .pt reader plugin: read_tensor_file's torch side behind a dlopen-able symbol.

#include "io/formats.h"
#include "layerwatch/torch/huge_page_allocator.h"
#include "pt_plugin_abi.h"

extern "C" bool layerwatch_read_pt(const std::string& path, const std::string& bytes,
                                   layerwatch::io::Array& out, std::string& error) {
  try {
    // The command runs LibTorch only to read the file: its tensors may as well be on huge pages.
    layerwatch::use_huge_page_allocator();
    out = layerwatch::io::parse_tensor_bytes(path, std::vector<char>(bytes.begin(), bytes.end()));
    return true;
  } catch (const layerwatch::io::FileError& e) {
    const std::string what = e.what();
    error = what.rfind(path + ": ", 0) == 0 ? what.substr(path.size() + 2) : what;
  } catch (const std::exception& e) {
    error = e.what();
  }
  return false;
}

// Checks at compile time that the exported function has the expected type.
static_assert(std::is_same_v<decltype(&layerwatch_read_pt), layerwatch::io::PtReadFunction>);

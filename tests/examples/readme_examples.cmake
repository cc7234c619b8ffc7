# Writes OUTPUT, a program made of README's ```cpp blocks: each block becomes a function that
# runs it against a fresh readme::Context (readme_context.h), with its #include lines moved to
# the top. Build and run it, and the README's examples have run as written.
file(READ ${README} text)
# CMake lists split at ';': hold the code's semicolons apart until the file is written.
string(REPLACE ";" "<semicolon>" text "${text}")
string(REGEX MATCHALL "```cpp\n[^`]*```" blocks "${text}")
set(includes "#include \"readme_context.h\"\n")
set(functions "")
set(calls "")
set(index 0)
foreach(block IN LISTS blocks)
  math(EXPR index "${index} + 1")
  string(REGEX REPLACE "^```cpp\n" "" block "${block}")
  string(REGEX REPLACE "```$" "" block "${block}")
  string(REGEX MATCHALL "#include <[^>\n]*>" block_includes "${block}")
  foreach(include IN LISTS block_includes)
    string(APPEND includes "${include}\n")
  endforeach()
  string(REGEX REPLACE "#include <[^>\n]*>\n?" "" block "${block}")
  string(APPEND functions "
// README block ${index}
void block_${index}() {
  readme::Context context;
  [[maybe_unused]] auto& model = context.model;
  [[maybe_unused]] auto& probe_images = context.probe_images;
  [[maybe_unused]] auto& loader = context.loader;
  [[maybe_unused]] auto& optimizer = context.optimizer;
  [[maybe_unused]] const int epochs = context.epochs;
${block}
}
")
  string(APPEND calls "  fmt::print(\"README block ${index}\\n\");\n  block_${index}();\n")
endforeach()
if(index LESS 4)
  message(FATAL_ERROR "README.md has ${index} C++ blocks; expected at least 4")
endif()
set(program "// Generated from README.md by readme_examples.cmake.\n${includes}${functions}
int main() {
${calls}  fmt::print(\"all ${index} README examples ran\\n\");
  return 0;
}
")
string(REPLACE "<semicolon>" ";" program "${program}")
file(WRITE ${OUTPUT}.new "${program}")
file(COPY_FILE ${OUTPUT}.new ${OUTPUT} ONLY_IF_DIFFERENT)

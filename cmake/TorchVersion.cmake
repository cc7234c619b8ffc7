# The LibTorch releases layerwatch is built and tested with. The freeze controller erases an
# optimizer's per-parameter state by the key LibTorch uses for it, which releases have changed;
# a release outside this range stops the configuration instead of building something that might
# silently keep a frozen parameter's momentum.
set(LAYERWATCH_TORCH_TESTED_MIN 1.13)
set(LAYERWATCH_TORCH_TESTED_BELOW 2.0)

function(layerwatch_check_torch_version version allow_untested)
  if(version VERSION_LESS LAYERWATCH_TORCH_TESTED_MIN OR
     NOT version VERSION_LESS LAYERWATCH_TORCH_TESTED_BELOW)
    if(allow_untested)
      message(WARNING "layerwatch: LibTorch ${version} is untested (tested: "
        "${LAYERWATCH_TORCH_TESTED_MIN} <= version < ${LAYERWATCH_TORCH_TESTED_BELOW}); building "
        "anyway because LAYERWATCH_ALLOW_UNTESTED_TORCH is ON")
    else()
      message(FATAL_ERROR "layerwatch: LibTorch ${version} is not supported: layerwatch is built "
        "and tested with ${LAYERWATCH_TORCH_TESTED_MIN} <= LibTorch < "
        "${LAYERWATCH_TORCH_TESTED_BELOW} (Debian bookworm's libtorch-dev). Install that, or set "
        "-DLAYERWATCH_ALLOW_UNTESTED_TORCH=ON to try (the optimizer-state key is checked when "
        "compiling src/freeze/freeze_controller.cpp)")
    endif()
  endif()
endfunction()

# Run as a script (cmake -DTORCH_VERSION=x -P TorchVersion.cmake) by the test that checks the
# message.
if(CMAKE_SCRIPT_MODE_FILE AND DEFINED TORCH_VERSION)
  layerwatch_check_torch_version(${TORCH_VERSION} OFF)
  message(STATUS "LibTorch ${TORCH_VERSION} is supported")
endif()

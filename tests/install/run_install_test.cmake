# Two ways a user's project takes layerwatch, each configured with the parent build's generator
# and compiler (a fresh machine may have ninja and no make):
#  - install the build into a scratch prefix, then find_package(layerwatch) from a consumer;
#  - add_subdirectory(layerwatch) from the same consumer (libraries only, no tests/examples).
# Both consumers include only torch-free headers and must compile without LibTorch's headers.
file(REMOVE_RECURSE ${WORK_DIR})
set(tools -G ${GENERATOR} -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM} -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
          -DCMAKE_BUILD_TYPE=Release)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${what}: ok")
endfunction()

run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
foreach(required include/layerwatch/similarity/similarity.h include/layerwatch/core/version.h
        include/layerwatch/torch/monitor.h bin/layerwatch lib/liblayerwatch_pt.so)
  if(NOT EXISTS ${WORK_DIR}/prefix/${required})
    message(FATAL_ERROR "install is missing ${required}")
  endif()
endforeach()
foreach(internal capture/capture_detail.h sinks/console_sink.h freeze/freeze_controller.h)
  if(EXISTS ${WORK_DIR}/prefix/include/layerwatch/${internal})
    message(FATAL_ERROR "install holds the internal header ${internal}")
  endif()
endforeach()

run("configure the find_package consumer" ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/consumer
    -B ${WORK_DIR}/installed ${tools} -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
run("build the find_package consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/installed)
run("run the find_package consumer" ${WORK_DIR}/installed/consumer)

run("configure the add_subdirectory consumer" ${CMAKE_COMMAND}
    -S ${SOURCE_DIR}/tests/install/consumer -B ${WORK_DIR}/subdirectory ${tools}
    -DLAYERWATCH_SOURCE_DIR=${SOURCE_DIR})
run("build the add_subdirectory consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/subdirectory
    --target consumer --parallel ${JOBS})
run("run the add_subdirectory consumer" ${WORK_DIR}/subdirectory/consumer)

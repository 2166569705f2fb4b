# The installed package for code built against allocmark: a CMake config (find_package(allocmark)
# -> allocmark::plugin, allocmark::allocmark) and a pkg-config file (allocmark.pc). Layer: build,
# install rules only; included once from the root CMakeLists.txt after allocmark_plugin_api.
include(CMakePackageConfigHelpers)

# Install layout, relative to the prefix (harness/run/layout.cc expects bin/ and lib/allocmark/).
set(ALLOCMARK_INSTALL_BINDIR bin)
set(ALLOCMARK_INSTALL_INCLUDEDIR include)
set(ALLOCMARK_INSTALL_CMAKEDIR lib/cmake/allocmark)
set(ALLOCMARK_INSTALL_PKGCONFIGDIR lib/pkgconfig)

# The plugin ABI version, read from the header so there is one place that states it.
file(STRINGS "${PROJECT_SOURCE_DIR}/include/allocmark/plugin.h" _abi_line
     REGEX "^#define ALLOCMARK_PLUGIN_ABI_VERSION [0-9]+u?$")
string(REGEX REPLACE "^#define ALLOCMARK_PLUGIN_ABI_VERSION ([0-9]+)u?$" "\\1"
       ALLOCMARK_PLUGIN_ABI_VERSION "${_abi_line}")
if(NOT ALLOCMARK_PLUGIN_ABI_VERSION MATCHES "^[0-9]+$")
  message(FATAL_ERROR "include/allocmark/plugin.h: no '#define ALLOCMARK_PLUGIN_ABI_VERSION N'")
endif()

install(TARGETS allocmark_plugin_api EXPORT allocmarkTargets)
install(EXPORT allocmarkTargets NAMESPACE allocmark:: DESTINATION ${ALLOCMARK_INSTALL_CMAKEDIR})

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/allocmarkConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/package/allocmarkConfig.cmake"
  INSTALL_DESTINATION ${ALLOCMARK_INSTALL_CMAKEDIR}
  PATH_VARS ALLOCMARK_INSTALL_BINDIR ALLOCMARK_INSTALL_INCLUDEDIR)
# Same major version, and not ARCH_INDEPENDENT: a plugin is dlopen'ed by the installed worker, so
# it must be built for the same architecture (pointer size) as the package it finds.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/package/allocmarkConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/package/allocmarkConfig.cmake"
              "${PROJECT_BINARY_DIR}/package/allocmarkConfigVersion.cmake"
        DESTINATION ${ALLOCMARK_INSTALL_CMAKEDIR})

configure_file("${PROJECT_SOURCE_DIR}/cmake/allocmark.pc.in"
               "${PROJECT_BINARY_DIR}/package/allocmark.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/package/allocmark.pc"
        DESTINATION ${ALLOCMARK_INSTALL_PKGCONFIGDIR})

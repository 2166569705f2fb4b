# Writes OUT = a header defining ALLOCMARK_GIT_REVISION: the commit of SRC being built, with
# "-dirty" when tracked files differ from it, "unknown" outside a git checkout. Run at every
# build (cheap: two git calls); the header is rewritten only when the text changes, so an
# unchanged revision rebuilds nothing. Usage: cmake -DSRC=<dir> -DOUT=<file> -P git_revision.cmake
execute_process(COMMAND git -C "${SRC}" rev-parse HEAD OUTPUT_VARIABLE rev
                OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR rev STREQUAL "")
  set(rev "unknown")
else()
  execute_process(COMMAND git -C "${SRC}" status --porcelain --untracked-files=no
                  OUTPUT_VARIABLE changes OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(NOT changes STREQUAL "")
    string(APPEND rev "-dirty")
  endif()
endif()
set(text "// Generated at build time by cmake/git_revision.cmake.\n#pragma once\n#define ALLOCMARK_GIT_REVISION \"${rev}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()

// CS:APP malloc-lab trace files (`.rep`): a numeric header, then `a id size`, `r id size`,
// `f id` lines on one thread, blocks named by request id. Import only. Layer: workloads.
#pragma once

#include <string>

#include "workloads/importer.h"
#include "workloads/trace.h"

namespace allocmark {

// Header: the 4-number form (suggested heap size, number of ids, number of ops, weight; later
// drivers put weight first and a byte count or flag last, ids and ops stay 2nd and 3rd) or the
// 3-number form (ids, ops, weight). The op count must match the lines that follow and every id
// must be below the id count, as the lab's driver asserts. `f -1` is skipped (a null_free
// repair, importer.h); `r` of an id that is not live is realloc(NULL); `r id 0` of a live id is
// a free. A second `a` of a live id, a free of a dead one, or anything malformed: false with
// "PATH:LINE: expected ...".
bool import_malloclab(const std::string& path, Trace* trace, ImportStats* stats,
                      std::string* error);

}  // namespace allocmark

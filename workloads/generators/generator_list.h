// One factory per generator file; generators.cc lists them in this order for `list workloads`.
// Layer: workloads (internal header of the generators, not part of the public interface).
#pragma once

#include "workloads/generator.h"

namespace allocmark::gen {

Generator alloc_only_generator();
Generator churn_generator();
Generator phase_reset_generator();
Generator larson_generator();
Generator xmalloc_generator();
Generator mstress_generator();
Generator alloc_test_generator();
Generator glibc_simple_generator();
Generator glibc_thread_generator();
Generator lifo_free_generator();
Generator cache_thrash_generator();
Generator cache_scratch_generator();
Generator large_buffers_generator();
Generator realloc_growth_generator();
Generator frag_checkerboard_generator();
Generator frag_sawtooth_generator();
Generator short_lived_threads_generator();
Generator fleet_generator();

}  // namespace allocmark::gen

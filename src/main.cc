#include <malloc.h>

#include "cli/commands.h"

int main(int argc, char** argv) {
  // glibc gives each of vigil's ~17 threads (one per collector) its own malloc
  // arena; they allocate little, and the arenas' partly used pages cost about
  // 0.8 MiB of RSS at a 1 s interval. Two arenas keep contention negligible.
  mallopt(M_ARENA_MAX, 2);
  // Fixed thresholds instead of glibc's sliding ones: after a large query
  // frees a big buffer glibc raises the trim threshold up to 64 MiB, and the
  // freed heap then stays resident (35 MiB above idle after a burst of 24 h
  // queries, bench/query_memory.py). 32 MiB is the highest mmap threshold the
  // sliding rule would reach, so large buffers still come from the heap, as
  // fast; free heap above 8 MiB is returned (docs/performance.md).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 8 << 20);
  return vigil::cli::Main(argc, argv);
}

#include <malloc.h>

#include "cli/commands.h"

int main(int argc, char** argv) {
  // glibc gives each of vigil's ~17 threads (one per collector) its own malloc
  // arena; they allocate little, and the arenas' partly used pages cost about
  // 0.8 MiB of RSS at a 1 s interval. Two arenas keep contention negligible.
  mallopt(M_ARENA_MAX, 2);
  return vigil::cli::Main(argc, argv);
}

#include "tsdb/encoding.h"

#include <zlib.h>

namespace vigil::tsdb {

uint32_t Crc32(std::initializer_list<std::string_view> parts) {
  uLong crc = crc32(0L, Z_NULL, 0);
  for (std::string_view p : parts)
    crc = crc32(crc, reinterpret_cast<const Bytef*>(p.data()), static_cast<uInt>(p.size()));
  return static_cast<uint32_t>(crc);
}

}  // namespace vigil::tsdb

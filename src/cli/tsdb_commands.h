// `vigil tsdb import|stats|dump`: tools over a data directory's store.
#pragma once

#include <string>

namespace vigil::cli {

int TsdbImport(const std::string& data_dir, const std::string& file);
int TsdbStats(const std::string& data_dir, bool json);
int TsdbDump(const std::string& data_dir, const std::string& selector, const std::string& from, const std::string& to);

}  // namespace vigil::cli

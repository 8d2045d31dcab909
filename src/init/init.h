// `vigil init`: turns what was read about a host's units (their properties
// and the files they name) into a commented vigil.yml. Pure: the D-Bus and
// file reading happen in the caller (systemd/inspect.h, cli/init_command.cc),
// so every rule here is tested without a bus.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace vigil::init {

// One unit as systemd reports it (org.freedesktop.systemd1.Unit and .Service).
struct UnitFacts {
  std::string name;        // arch-bitcoind@alice.service
  std::string load_state;  // loaded, not-found, bad-setting, …
  std::string fragment_path;
  std::string load_error;                      // systemd's LoadError message when not loaded
  std::vector<std::string> exec_start;         // argv of the first ExecStart=, unexpanded
  std::vector<std::string> environment;        // Environment= entries, KEY=VALUE
  std::vector<std::string> environment_files;  // EnvironmentFile= paths; "-" prefix: may be missing
  std::string working_directory;               // as systemd reports it: "", "~", "!/path" (may be missing)
};

// Reads a whole file; an error says why (no such file, permission denied).
using FileReader = std::function<Result<std::string>(const std::string& path)>;

struct Host {
  std::string user;  // the units' instance name: arch-*@USER
  std::string home;  // that user's home directory (bitcoind's default datadir is under it)
  bool user_bus = false;
  std::vector<UnitFacts> units;  // the units that matched arch-*@USER, in any order
};

struct Output {
  std::string yaml;
  std::vector<std::string> notes;  // what was found where, and what was not (never a secret's value)
};

// The vigil.yml for the arch-validator preset: bitcoind, titan and the
// validator as services with their unit, module, probes, logs and
// dependencies; anything not found is written commented out with the reason.
Output RenderArchValidator(const Host& host, const FileReader& read);

// --- Parts, exposed for tests ---------------------------------------------

// An env file as systemd's EnvironmentFile= or a shell's `source` reads it
// (config::ParseEnvFile's .envrc syntax). `export_keys` are the keys set by
// `export KEY=…` lines: systemd ignores those lines in EnvironmentFile=.
struct EnvFileFacts {
  std::map<std::string, std::string> vars;
  std::vector<std::string> export_keys;
  std::vector<std::string> problems;  // "FILE:LINE: why"
};
EnvFileFacts ParseEnvFileFacts(const std::string& path, std::string_view content);

// The command a unit really runs: for `sh -c 'source F; cd D; exec prog args >> LOG 2>&1'`
// the program's argv, the files sourced, the directory changed to and the
// file stdout goes to; for anything else, argv itself.
struct Command {
  std::vector<std::string> argv;
  std::vector<std::string> sourced_files;
  std::map<std::string, std::string> assignments;  // `export K=V` / `K=V` in the script
  std::string cd;
  std::string stdout_file;
  std::string problem;      // why the script could not be read, or ""
  bool from_shell = false;  // argv came out of a `sh -c` script (a shell expands its variables again)
};
Command EffectiveCommand(const std::vector<std::string>& argv);

// Splits a shell script into words and operators (";", "&&", "||", "|", "&",
// "\n", ">", ">>", "2>", "2>&1", "&>"), honouring quotes and backslashes.
// Error on an unterminated quote.
Result<std::vector<std::string>> ShellWords(std::string_view script);

// Expands $VAR, ${VAR} and ${VAR:-default} from `vars` (unset: empty, as
// systemd and the shell do); names that were unset are added to `unset`.
std::string ExpandVars(std::string_view text, const std::map<std::string, std::string>& vars,
                       std::vector<std::string>* unset = nullptr);

// The value of a command-line option: "-name=value", "--name=value", or
// "--name value" for names starting with "--"; the last one wins, as
// bitcoind and clap agree. `names` are alternatives ("-rpcport", "--rpc-port").
std::optional<std::string> FlagValue(const std::vector<std::string>& argv, const std::vector<std::string>& names);
// True iff a boolean flag is present ("-testnet", "-testnet=1"; "-testnet=0" and "-notestnet" are false).
bool FlagSet(const std::vector<std::string>& argv, const std::string& name);

// bitcoin.conf: `key=value` lines, `#` comments, `[main]`/`[test]`/`[testnet4]`/`[signet]`/`[regtest]` sections.
struct BitcoinConf {
  std::map<std::string, std::string> top;                              // before any section
  std::map<std::string, std::map<std::string, std::string>> sections;  // section -> key -> value
  std::vector<std::string> problems;                                   // "FILE:LINE: why"
};
BitcoinConf ParseBitcoinConf(const std::string& path, std::string_view content);

// StandardOutput=append:PATH / file:PATH / truncate:PATH in a unit file's [Service] section, or "".
std::string StandardOutputFile(std::string_view unit_file);

}  // namespace vigil::init

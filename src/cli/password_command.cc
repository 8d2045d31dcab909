#include "cli/password_command.h"

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include "http/password.h"

namespace vigil::cli {
namespace {

// One line from stdin, without its line end; the terminal does not echo it.
std::optional<std::string> ReadSecretLine(const char* prompt, bool tty) {
  termios saved{};
  if (tty) {
    std::fprintf(stderr, "%s", prompt);
    std::fflush(stderr);
    if (tcgetattr(STDIN_FILENO, &saved) == 0) {
      termios quiet = saved;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
  }
  std::string line;
  bool got = static_cast<bool>(std::getline(std::cin, line));
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::fprintf(stderr, "\n");
  }
  if (!got) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

int HashPasswordCommand(int cost) {
  const bool tty = isatty(STDIN_FILENO) != 0;
  std::optional<std::string> password = ReadSecretLine("Password: ", tty);
  if (!password) {
    std::fprintf(stderr, "hash-password: no password on stdin\n");
    return 1;
  }
  if (password->empty()) {
    std::fprintf(stderr, "hash-password: the password is empty\n");
    return 1;
  }
  if (tty) {
    std::optional<std::string> again = ReadSecretLine("Again: ", tty);
    if (!again || *again != *password) {
      std::fprintf(stderr, "hash-password: the two passwords differ\n");
      return 1;
    }
  }
  Result<std::string> hash = http::HashPassword(*password, cost);
  if (!hash.ok()) {
    std::fprintf(stderr, "hash-password: %s\n", hash.status().message().c_str());
    return 1;
  }
  std::printf("%s\n", hash->c_str());
  return 0;
}

}  // namespace vigil::cli

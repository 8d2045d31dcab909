// Text views of a status snapshot for `vigil status` and `vigil top`: pure
// functions from a Snapshot to lines that fit a width, with ANSI colours only
// when asked (a TTY without NO_COLOR). States and priorities are always
// spelled out (DOWN, [P0]) so nothing depends on colour alone.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "status/snapshot.h"

namespace vigil::cli {

struct ViewOptions {
  int width = 80;
  bool color = false;
  double now = 0;  // Unix seconds, for "5m ago"; 0: the snapshot's time
};

// Exit code of `vigil status` for a verdict: 0 healthy, 1 warning, 2 critical.
int ExitCodeFor(status::Overall overall);

// "42s", "5m", "3h12m", "2d4h"; "-" for negative or non-finite.
std::string FormatAge(double seconds);
// "512 B", "1.5 KiB", "3.2 GiB".
std::string FormatBytes(double bytes);
// "97.3%", or "-" for null.
std::string FormatRatio(const status::OptDouble& ratio);

// `vigil status`: the whole picture on one screen.
std::vector<std::string> RenderStatus(const status::Snapshot& s, const ViewOptions& o);

// `vigil top` panes (without the title and key lines).
std::vector<std::string> RenderServicesPane(const status::Snapshot& s, const ViewOptions& o);
// `selected`: index into s.alerts.firing, marked with '>' (and reverse video with colour).
std::vector<std::string> RenderAlertsPane(const status::Snapshot& s, const ViewOptions& o, int selected);
std::vector<std::string> RenderHostPane(const status::Snapshot& s, const ViewOptions& o);

// The headline: "vigil @ host: CRITICAL  P0 1  P1 0 …".
std::string RenderHeadline(const status::Snapshot& s, const ViewOptions& o);

// Cuts `line` to `width` display columns, counting neither ANSI escape
// sequences nor UTF-8 continuation bytes; a cut coloured line is reset.
std::string FitWidth(std::string_view line, int width);

}  // namespace vigil::cli

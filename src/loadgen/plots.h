// PNG plots of one or more reports, drawn by gnuplot (a separate program; the plots are
// skipped with a message when it is missing): TTFT by turn index, latency CDFs, and output
// tokens/s over time. The gnuplot script with its data is left beside the PNGs.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "loadgen/report.h"

namespace parley::loadgen {

// The script that draws the plots into `dir` (exposed for tests).
std::string PlotScript(const std::vector<const Report*>& reports, const std::string& dir);

// Writes DIR/plots.gp and runs gnuplot on it; `written` gets the PNG paths.
Status WritePlots(const std::vector<const Report*>& reports, const std::string& dir, std::vector<std::string>* written);

// `s` as a gnuplot single-quoted string.
std::string GnuplotQuote(const std::string& s);

// Writes `script` to `script_path` and runs gnuplot on it; Unavailable when gnuplot is missing.
Status RunGnuplot(const std::string& script, const std::string& script_path);

}  // namespace parley::loadgen

#include "loadgen/plots.h"

#include <spawn.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>

extern char** environ;

namespace parley::loadgen {
namespace {

// A gnuplot single-quoted string.
std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

// An empirical CDF as a datablock: value, fraction of values <= it.
std::string CdfBlock(const std::string& name, const std::vector<double>& sorted) {
  std::string out = "$" + name + " << EOD\n";
  for (size_t i = 0; i < sorted.size(); ++i) {
    out += Num(sorted[i]) + " " + Num(static_cast<double>(i + 1) / static_cast<double>(sorted.size())) + "\n";
  }
  if (sorted.empty()) out += "0 0\n";
  return out + "EOD\n";
}

const char* const kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};

}  // namespace

std::string GnuplotQuote(const std::string& s) { return Quote(s); }

std::string PlotScript(const std::vector<const Report*>& reports, const std::string& dir) {
  std::string s;
  s += "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) { set terminal pngcairo size 960,560 font ',10' }"
       " else { set terminal png size 960,560 }\n";
  s += "set grid\nset key top left\n";
  // Data.
  for (size_t i = 0; i < reports.size(); ++i) {
    const Report& r = *reports[i];
    std::string n = std::to_string(i);
    s += "$turns" + n + " << EOD\n";
    for (size_t t = 0; t < r.by_turn.size(); ++t) {
      if (r.by_turn[t].ttft_s.count == 0) continue;
      s += std::to_string(t + 1) + " " + Num(r.by_turn[t].ttft_s.p50) + " " + Num(r.by_turn[t].ttft_s.p99) + "\n";
    }
    if (r.by_turn.empty()) s += "1 0 0\n";
    s += "EOD\n";
    s += CdfBlock("ttftcdf" + n, r.ttft_sorted);
    s += CdfBlock("e2ecdf" + n, r.e2e_sorted);
    s += "$timeline" + n + " << EOD\n";
    for (size_t b = 0; b < r.output_timeline.size(); ++b) {
      s += Num((static_cast<double>(b) + 0.5) * r.bin_s) + " " + Num(r.output_timeline[b]) + "\n";
    }
    s += "EOD\n";
  }
  auto color = [&](size_t i) { return std::string(" lc rgb '") + kColors[i % 4] + "'"; };
  // Titles are the endpoints' names as gnuplot strings.
  std::vector<std::string> quoted;
  for (const Report* r : reports) quoted.push_back(Quote(r->name));
  auto plot_titled = [&](const std::string& fmt_each) {
    std::string line = "plot ";
    for (size_t i = 0; i < reports.size(); ++i) {
      std::string each = fmt_each;
      auto sub = [&](const std::string& key, const std::string& value) {
        for (size_t pos = each.find(key); pos != std::string::npos; pos = each.find(key, pos + value.size())) {
          each.replace(pos, key.size(), value);
        }
      };
      sub("@QNAME", quoted[i]);
      sub("@C", color(i));
      sub("@N", std::to_string(i));
      line += (i ? ", \\\n     " : "") + each;
    }
    return line + "\n";
  };

  s += "set output " + Quote(dir + "/ttft_by_turn.png") + "\n";
  s += "set title 'Time to first token by turn index (each turn resends the whole history)'\n";
  s += "set xlabel 'turn'\nset ylabel 'TTFT (s)'\nset xtics 1\nset yrange [0:*]\n";
  s += plot_titled("$turns@N using 1:2 with linespoints lw 2 pt 7 @C title @QNAME.' p50', "
                   "$turns@N using 1:3 with linespoints lw 1 dt 2 pt 6 @C title @QNAME.' p99'");
  s += "unset xtics\nset xtics\n";

  s += "set output " + Quote(dir + "/latency_cdf.png") + "\n";
  s += "set multiplot layout 1,2\nset yrange [0:1]\nset ylabel 'fraction of requests'\nset key bottom right\n";
  s += "set title 'TTFT'\nset xlabel 'seconds'\n";
  s += plot_titled("$ttftcdf@N using 1:2 with steps lw 2 @C title @QNAME");
  s += "set title 'End-to-end latency'\n";
  s += plot_titled("$e2ecdf@N using 1:2 with steps lw 2 @C title @QNAME");
  s += "unset multiplot\n";

  s += "set output " + Quote(dir + "/throughput.png") + "\n";
  s += "set title 'Output tokens per second over the run'\nset xlabel 'seconds since start'\n"
       "set ylabel 'tokens/s'\nset yrange [0:*]\nset key top right\n";
  s += plot_titled("$timeline@N using 1:2 with lines lw 2 @C title @QNAME");
  s += "unset output\n";
  return s;
}

Status RunGnuplot(const std::string& script, const std::string& script_path) {
  {
    std::ofstream out(script_path);
    out << script;
    if (!out) return Status::Error("cannot write " + script_path);
  }
  std::string program = "gnuplot";
  char* argv[] = {program.data(), const_cast<char*>(script_path.c_str()), nullptr};
  pid_t pid;
  if (posix_spawnp(&pid, "gnuplot", nullptr, nullptr, argv, environ) != 0) {
    return Status::Unavailable("gnuplot is not installed (apt-get install gnuplot-nox); no PNG plots, the data is in " +
                               script_path);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
      return Status::Unavailable("gnuplot is not installed (apt-get install gnuplot-nox); no PNG plots");
    }
    return Status::Error("gnuplot failed on " + script_path);
  }
  return Status::Ok();
}

Status WritePlots(const std::vector<const Report*>& reports, const std::string& dir, std::vector<std::string>* written) {
  Status s = RunGnuplot(PlotScript(reports, dir), dir + "/plots.gp");
  if (!s.ok()) return s;
  for (const char* name : {"ttft_by_turn.png", "latency_cdf.png", "throughput.png"}) written->push_back(dir + "/" + name);
  return Status::Ok();
}

}  // namespace parley::loadgen

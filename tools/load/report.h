// sluice-load's report: the merged results of every worker, as text or as one JSON object.
#ifndef SLUICE_TOOLS_LOAD_REPORT_H_
#define SLUICE_TOOLS_LOAD_REPORT_H_

#include <string>
#include <vector>

#include "load/worker.h"

namespace sluice::load {

struct RunSummary {
  std::string target;      // the URL
  std::string keys;        // the distribution spec
  std::string key_header;  // empty with keys "none"
  unsigned threads = 0;
  unsigned connections = 0;
  unsigned pipeline = 1;
  double rate = 0;          // requested requests/s; 0: closed loop
  double elapsed_s = 0;     // wall time of the run
  double client_cpu_s = 0;  // user + system CPU of sluice-load itself
  WorkerResult merged;      // every worker's result merged
};

WorkerResult Merge(std::vector<WorkerResult>& results);
std::string FormatText(const RunSummary& summary);
std::string FormatJson(const RunSummary& summary);

}  // namespace sluice::load

#endif  // SLUICE_TOOLS_LOAD_REPORT_H_

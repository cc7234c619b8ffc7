#include "html_page.h"

#include <fmt/format.h>

#include <chrono>
#include <ctime>

#include "svg_chart.h"

namespace layerwatch::detail {
namespace {

constexpr const char* kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1100px;
padding:16px 24px;color:#222;line-height:1.4}
h1{font-size:1.5em;margin-bottom:0}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
.meta{color:#666;font-size:.9em}.caption{color:#555;font-size:.9em;margin:.2em 0 .6em}
svg.chart{width:100%;height:auto;display:block}
table{border-collapse:collapse;font-size:.92em}td,th{padding:3px 10px;border-bottom:1px solid #eee;
text-align:left;vertical-align:top}
.warnings{background:#fff4e5;border-left:4px solid #f0a030;padding:8px 14px;margin:1em 0}
.empty{background:#f4f4f4;padding:8px 14px}
g.series.hidden{display:none}g.legend-entry.off{opacity:.35}
#script-errors:empty{display:none}#script-errors{color:#b00;font-weight:bold}
)";

// Catches script errors first, so a broken page says so on screen (and the rendering test
// sees it); then wires the legends and marks the page as ready.
constexpr const char* kErrorScript = R"(<script>
window.addEventListener('error', function (e) {
  var box = document.getElementById('script-errors');
  if (box) box.textContent += 'script error: ' + e.message + '\n';
  else document.documentElement.setAttribute('data-script-error', e.message);
});
</script>)";

constexpr const char* kScript = R"(<script>
(function () {
  var early = document.documentElement.getAttribute('data-script-error');
  if (early) document.getElementById('script-errors').textContent += 'script error: ' + early;
  document.querySelectorAll('svg.chart').forEach(function (svg) {
    svg.querySelectorAll('g.legend-entry').forEach(function (entry) {
      entry.addEventListener('click', function () {
        var series = svg.querySelector('g.series[data-series-index="' +
                                       entry.getAttribute('data-toggle') + '"]');
        if (!series) return;
        series.classList.toggle('hidden');
        entry.classList.toggle('off');
      });
    });
  });
  document.body.setAttribute('data-ready', String(document.querySelectorAll('svg.chart').length));
})();
</script>)";

}  // namespace

std::string html_page(const std::string& title, const std::string& body) {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>{}</title>\n<style>{}</style>\n{}\n</head>\n<body>\n"
      "<div id=\"script-errors\"></div>\n{}{}\n</body>\n</html>\n",
      xml_escape(title), kStyle, kErrorScript, body, kScript);
}

std::string generated_time() {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char when[64] = {};
  std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  return when;
}

}  // namespace layerwatch::detail

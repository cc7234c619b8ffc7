#pragma once
// The frame of layerwatch's HTML pages (the run report, the layer heatmap): one self-contained
// document with the shared style sheet, a script-error box that makes a broken page say so,
// and the script that wires the charts' legends and marks the page ready for the rendering test.

#include <string>

namespace layerwatch::detail {

/// A whole page titled `title` (escaped here) around `body` (HTML, already escaped).
std::string html_page(const std::string& title, const std::string& body);

/// The local time now as "YYYY-MM-DD HH:MM:SS", for a page's "generated" line.
std::string generated_time();

}  // namespace layerwatch::detail

"""The report page's fixed parts: its stylesheet and its one small script (no external
file, font or URL: the page is one file that opens offline).

The script pages the sample viewer client-side: the rows are in the page already (capped
when read, ``data.py``), the script only shows one page of them at a time, filtered by
task. It reads text with ``textContent`` and writes none as HTML.
"""

from __future__ import annotations

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;
max-width:1280px;padding:16px 24px;color:#222;background:#fff}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:14px;margin:4px 0}
.meta{color:#555}.charts{display:flex;flex-wrap:wrap;gap:12px}
.card{border:1px solid #ddd;border-radius:6px;padding:8px}
.legend span{display:inline-block;margin-right:12px}.swatch{display:inline-block;width:12px;
height:12px;border-radius:2px;margin-right:4px;vertical-align:-1px}
svg.chart .frame{fill:#fafafa;stroke:#ccc}svg.chart .grid{stroke:#e5e5e5}
svg.chart .tick,svg.chart .axis{font-size:11px;fill:#555}
svg.chart .band{opacity:.18;stroke:none}svg.chart .line{fill:none;stroke-width:2}
svg.chart .best{fill:none;stroke-width:2.5}
table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{border:1px solid #e2e2e2;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
.s-completed{color:#1a7f37}.s-failed,.s-lost{color:#cf222e;font-weight:600}
.s-cancelled{color:#9a6700}pre{white-space:pre-wrap;margin:2px 0;font-size:12px}
.samples td{max-width:360px;white-space:pre-wrap;word-break:break-word}
.pager{margin:6px 0}.pager button{margin:0 4px}.note{color:#9a6700}
"""

SCRIPT = """
(function(){
  var rows = Array.prototype.slice.call(document.querySelectorAll('#samples tbody tr'));
  var pick = document.getElementById('sample-task');
  var info = document.getElementById('sample-page');
  if (!rows.length || !pick || !info) { return; }
  var size = 20, page = 0;
  function chosen(){
    return rows.filter(function(r){ return !pick.value || r.dataset.task === pick.value; });
  }
  function show(){
    var shown = chosen(), pages = Math.max(1, Math.ceil(shown.length / size));
    page = Math.min(Math.max(page, 0), pages - 1);
    rows.forEach(function(r){ r.hidden = true; });
    shown.slice(page * size, page * size + size).forEach(function(r){ r.hidden = false; });
    info.textContent = 'page ' + (page + 1) + ' of ' + pages + ' (' + shown.length + ' samples)';
  }
  document.getElementById('sample-prev').addEventListener('click', function(){ page--; show(); });
  document.getElementById('sample-next').addEventListener('click', function(){ page++; show(); });
  pick.addEventListener('change', function(){ page = 0; show(); });
  show();
})();
"""

// The HTML report's stylesheet, inlined into the page (the file must stand alone).
export const css = `
:root { --ink: #1e272e; --muted: #6b7785; --line: #dfe4ea; --bg: #f4f6f9; --card: #fff; --accent: #3867d6; --bad: #eb3b5a; --good: #20bf6b; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; }
header.top { background: linear-gradient(120deg, #1e3799, #3867d6); color: #fff; padding: 26px 40px 22px; }
header.top h1 { margin: 0 0 6px; font-size: 24px; font-weight: 650; letter-spacing: .2px; }
header.top .meta { display: flex; flex-wrap: wrap; gap: 6px 22px; opacity: .95; }
header.top .meta b { font-weight: 600; }
header.top .alert { color: #ffd2d9; font-weight: 600; }
main { max-width: 1120px; margin: 0 auto; padding: 22px 24px 60px; }
.card { background: var(--card); border-radius: 10px; box-shadow: 0 1px 3px rgba(20,30,50,.08), 0 6px 18px rgba(20,30,50,.05); padding: 20px 24px; margin: 0 0 22px; }
h2 { margin: 0 0 2px; font-size: 19px; }
h2 .key { color: var(--muted); font-weight: 500; font-size: 14px; margin-left: 8px; }
h3 { margin: 20px 0 6px; font-size: 13px; text-transform: uppercase; letter-spacing: .6px; color: var(--muted); font-weight: 650; }
.badges { margin: 6px 0 12px; display: flex; gap: 8px; flex-wrap: wrap; }
.badge { border-radius: 999px; padding: 2px 10px; font-size: 12px; background: #eef1f6; color: #3d4852; }
.badge.affinity { background: #e3ecff; color: #1e3799; }
.badge.warn { background: #ffe6ea; color: #b3213d; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(125px, 1fr)); gap: 10px; margin: 8px 0 4px; }
.tile { border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; }
.tile .v { font-size: 20px; font-weight: 650; }
.tile .k { font-size: 11.5px; color: var(--muted); }
.tile.bad .v { color: var(--bad); }
.tile.good .v { color: var(--good); }
.explain { color: var(--muted); margin: 2px 0 4px; }
table.summary { width: 100%; border-collapse: collapse; }
table.summary th, table.summary td { text-align: left; padding: 7px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
table.summary th { font-size: 12px; color: var(--muted); font-weight: 600; }
table.summary td.num, table.summary th.num { text-align: right; }
a { color: var(--accent); text-decoration: none; }
svg { display: block; overflow: visible; }
svg text { font-size: 12.5px; fill: var(--ink); }
svg .label { font-size: 12.5px; }
svg .mono, .mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; }
svg .value { fill: #3d4852; }
svg .gap { fill: rgba(255, 255, 255, .55); stroke: rgba(235, 59, 90, .45); stroke-dasharray: 4 3; }
svg .gap-label { fill: #b3213d; font-size: 11px; font-weight: 600; }
svg .on-bar { fill: #fff; font-weight: 600; }
svg .strong { font-weight: 650; }
svg .axis { fill: var(--muted); font-size: 11.5px; }
svg .muted { fill: var(--muted); font-style: italic; }
svg .track { fill: #eef1f6; }
svg .tick { stroke: #b6bec9; stroke-width: 1; }
svg .grid { stroke: #e6e9ef; stroke-dasharray: 3 3; }
svg .fair { stroke: #1e272e; stroke-width: 1.5; stroke-dasharray: 5 4; }
svg .change { stroke: #5f27cd; stroke-width: 2.5; }
svg .change-label { fill: #5f27cd; font-size: 11px; font-weight: 650; }
ul.findings { margin: 6px 0 0; padding-left: 20px; }
ul.findings li { margin: 3px 0; }
ul.findings .next { color: var(--muted); }
.card.idle { padding-top: 10px; padding-bottom: 10px; }
header.top code { font-size: 12.5px; }
td.bad { color: #b3213d; font-weight: 600; }
svg .fair-label { fill: #1e272e; font-size: 11.5px; font-weight: 600; }
.empty { color: var(--muted); font-style: italic; }
footer { color: var(--muted); text-align: center; font-size: 12px; }
`;

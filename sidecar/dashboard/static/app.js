/* RevitPyIoT dashboard: vanilla JS, one WebSocket for live state, REST for history and commands. */
"use strict";

const COLOURS = { ok: "rgb(46, 160, 67)", watch: "rgb(242, 201, 76)", warning: "rgb(242, 142, 43)",
  critical: "rgb(214, 39, 40)", unknown: "rgb(150, 150, 150)" };
const RANK = { ok: 0, unknown: 1, watch: 2, warning: 3, critical: 4 };
const SEVERITY_STATUS = { critical: "critical", warning: "warning", info: "watch" };
const STALE_AFTER_S = 900;
/* status.alarm_metrics keys (docs/sidecar.md): the alert console shows the rate ones, System all. */
const ALARM_RATE_METRICS = [["alarms_per_10min", "Alarms per 10 min"], ["chattering", "Chattering"],
  ["stale_alarms", "Standing (stale)"], ["shelved", "Shelved"]];
const ALARM_METRICS = [["alarms_per_10min", "Alarms per 10 min"], ["active", "Active"], ["unacknowledged", "Unacknowledged"],
  ["acknowledged", "Acknowledged"], ["returned_unacknowledged", "Returned, unacknowledged"], ["chattering", "Chattering"],
  ["stale_alarms", "Standing (stale)"], ["shelved", "Shelved"], ["escalated", "Escalated"], ["suppressed", "Suppressed (flood)"],
  ["floods", "Floods"]];

const S = {
  building: null, elements: new Map(), sensors: new Map(), levels: [], level: null,
  health: new Map(), alerts: new Map(), latest: new Map(), status: {}, dashboard: {},
  selected: null, selectedSensor: null, view: "overview",
  trend: { sensor: null, range: 86400, start: null, end: null, live: true, data: null },
  alertFilter: { state: "open", severity: "", text: "" },
};

const $ = (sel) => document.querySelector(sel);
const esc = (v) => String(v == null ? "" : v).replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const fmtTime = (ts) => ts ? new Date(ts * 1000).toLocaleString([], { month: "short", day: "numeric",
  hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "–";
const fmtNum = (v, d = 1) => (v == null || !isFinite(v)) ? "–" : Number(v).toFixed(d);
const unitText = (u) => ({ Cel: "°C", "kW.h": "kWh", "{persons}": "people", "1": "" }[u] ?? u ?? "");
const catText = (c) => String(c || "").replace(/^OST_/, "").replace(/([a-z])([A-Z])/g, "$1 $2");
const elName = (el) => el ? (el.name || el.mark || el.family || el.category || el.unique_id) : "";

function toast(text) {
  const t = $("#toast"); t.textContent = text; t.hidden = false;
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { t.hidden = true; }, 3500);
}

async function api(path, options) {
  const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const err = (data && data.error) || { message: response.statusText };
    throw new Error(err.message || err.code || "request failed");
  }
  return data;
}

async function command(type, body) {
  return api("/api/command/" + type, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}) });
}

/* ---------- building model ---------- */
function loadBuilding(building) {
  S.building = building; S.elements.clear(); S.sensors.clear();
  $("#building-title").textContent = building ? "· " + ((building.model && building.model.title) || building.building_id) : "";
  if (!building) { S.levels = []; return; }
  const levels = (building.levels || []).slice().sort((a, b) => (a.elevation_m || 0) - (b.elevation_m || 0));
  S.levels = levels;
  for (const el of building.elements || []) {
    S.elements.set(el.unique_id, el);
    if (el.sensor && el.sensor.sensor_id) S.sensors.set(el.sensor.sensor_id, el);
  }
  for (const el of S.elements.values()) el._level = levelOf(el);
  if (!S.level || !levels.find((l) => l.unique_id === S.level)) {
    const counts = new Map();
    for (const el of S.elements.values()) counts.set(el._level, (counts.get(el._level) || 0) + 1);
    const busiest = levels.slice().sort((a, b) => (counts.get(b.unique_id) || 0) - (counts.get(a.unique_id) || 0))[0];
    S.level = busiest ? busiest.unique_id : null;
  }
}

function levelOf(el) {
  const levels = S.levels;
  const match = levels.find((l) => l.unique_id === el.level || l.name === el.level);
  if (match) return match.unique_id;
  if (el.location && levels.length) {   // no level name: the level just below the element
    let best = levels[0];
    for (const l of levels) if ((l.elevation_m || 0) <= el.location[2] + 0.01) best = l;
    return best.unique_id;
  }
  return levels.length ? levels[0].unique_id : null;
}

function spaceOf(el) {
  if (!el.space || !S.building) return null;
  return (S.building.spaces || []).find((s) => s.unique_id === el.space || s.number === el.space || s.name === el.space) || null;
}

function hostedSensors(uid) {
  const out = [];
  for (const el of S.elements.values()) if (el.sensor && (el.sensor.host === uid || el.unique_id === uid)) out.push(el);
  return out;
}

function activeAlertsFor(uid) {
  const out = [];
  for (const a of S.alerts.values()) if (a.unique_id === uid && a.state !== "cleared") out.push(a);
  return out;
}

/* Health record first; otherwise a sensor's own alerts and freshness decide. */
function statusOf(el) {
  const h = S.health.get(el.unique_id);
  if (h && h.status) return h.status;
  let status = null;
  for (const a of activeAlertsFor(el.unique_id)) {
    const s = SEVERITY_STATUS[a.severity] || "watch";
    if (!status || RANK[s] > RANK[status]) status = s;
  }
  if (status) return status;
  if (el.sensor) {
    const last = S.latest.get(el.sensor.sensor_id);
    if (last && Date.now() / 1000 - last[0] < STALE_AFTER_S) return "ok";
  }
  return "unknown";
}

/* ---------- floor plan ---------- */
const SVGNS = "http://www.w3.org/2000/svg";
function svgEl(tag, attrs, parent) {
  const node = document.createElementNS(SVGNS, tag);
  for (const k in attrs) node.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(node);
  return node;
}

function renderLevels() {
  const box = $("#level-buttons"); box.innerHTML = "";
  for (const l of S.levels) {
    const b = document.createElement("button");
    b.textContent = l.name; b.dataset.level = l.unique_id;
    if (l.unique_id === S.level) b.classList.add("active");
    b.onclick = () => { S.level = l.unique_id; renderLevels(); renderPlan(); };
    box.appendChild(b);
  }
  $("#legend").innerHTML = ["ok", "watch", "warning", "critical", "unknown"].map((s) =>
    `<span><i class="dot" style="background:${COLOURS[s]}"></i>${s}</span>`).join("") +
    '<span><i class="sq"></i>equipment</span><span><i class="dot" style="border:1.5px solid var(--muted)"></i>sensor</span>';
}

function renderPlan() {
  const svg = $("#floorplan"); svg.innerHTML = "";
  const els = [...S.elements.values()].filter((e) => e._level === S.level && e.location);
  $("#plan-empty").hidden = els.length > 0 || !!S.building && S.elements.size > 0;
  if (!S.building) { $("#plan-empty").hidden = false; return; }
  // Whole-building extent so every level shares one scale and orientation.
  const all = [...S.elements.values()].filter((e) => e.location);
  if (!all.length) return;
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const e of all) { minX = Math.min(minX, e.location[0]); maxX = Math.max(maxX, e.location[0]);
    minY = Math.min(minY, e.location[1]); maxY = Math.max(maxY, e.location[1]); }
  const extent = Math.max(maxX - minX, maxY - minY, 10);
  const pad = extent * 0.06, unit = extent / 100;
  svg.setAttribute("viewBox", `${minX - pad} ${-maxY - pad} ${maxX - minX + 2 * pad} ${maxY - minY + 2 * pad}`);
  svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
  // Spaces have no boundaries in the export: draw each as the padded extent of what it holds.
  const bySpace = new Map();
  for (const e of els) { const sp = spaceOf(e); if (sp) { if (!bySpace.has(sp.unique_id)) bySpace.set(sp.unique_id, { sp, els: [] }); bySpace.get(sp.unique_id).els.push(e); } }
  const spaceLayer = svgEl("g", { class: "spaces" }, svg);
  for (const { sp, els: members } of bySpace.values()) {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const e of members) { x0 = Math.min(x0, e.location[0]); x1 = Math.max(x1, e.location[0]);
      y0 = Math.min(y0, e.location[1]); y1 = Math.max(y1, e.location[1]); }
    const m = unit * 4, minSize = unit * 12;
    const w = Math.max(x1 - x0 + 2 * m, minSize), h = Math.max(y1 - y0 + 2 * m + unit * 3, minSize);
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    const g = svgEl("g", { class: "space", "data-space": sp.unique_id }, spaceLayer);
    svgEl("rect", { x: cx - w / 2, y: -cy - h / 2 - unit * 1.5, width: w, height: h, rx: unit }, g);
    const label = svgEl("text", { x: cx - w / 2 + unit, y: -cy - h / 2 + unit * 1.4, "font-size": unit * 1.7 }, g);
    label.textContent = [sp.number, sp.name].filter(Boolean).join(" · ");
  }
  const linkLayer = svgEl("g", {}, svg);
  const elLayer = svgEl("g", {}, svg);
  const r = unit * 1.5;
  const ordered = els.slice().sort((a, b) => (a.kind === "equipment" ? 0 : 1) - (b.kind === "equipment" ? 0 : 1));
  for (const e of ordered) {
    const [x, y] = e.location;
    if (e.sensor && e.sensor.host) {
      const host = S.elements.get(e.sensor.host);
      if (host && host.location && host._level === S.level)
        svgEl("line", { class: "host-link", x1: x, y1: -y, x2: host.location[0], y2: -host.location[1] }, linkLayer);
    }
    const g = svgEl("g", { class: "el", "data-uid": e.unique_id, "data-kind": e.kind, tabindex: 0 }, elLayer);
    const title = svgEl("title", {}, g); title.textContent = elName(e) + (e.category ? " (" + catText(e.category) + ")" : "");
    if (e.kind === "equipment") {
      svgEl("rect", { class: "ring", x: x - r * 1.8, y: -y - r * 1.8, width: r * 3.6, height: r * 3.6, rx: r * 0.5 }, g);
      svgEl("rect", { class: "shape", x: x - r * 1.4, y: -y - r * 1.4, width: r * 2.8, height: r * 2.8, rx: r * 0.4 }, g);
    } else {
      svgEl("circle", { class: "ring", cx: x, cy: -y, r: r * 1.0 }, g);
      svgEl("circle", { class: "shape", cx: x, cy: -y, r: r * 0.62 }, g);
    }
    g.addEventListener("click", () => select(e.unique_id));
    g.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); select(e.unique_id); } });
  }
  paintPlan();
}

function paintPlan() {
  for (const g of document.querySelectorAll("#floorplan .el")) {
    const el = S.elements.get(g.dataset.uid); if (!el) continue;
    const status = statusOf(el);
    if (g.dataset.status !== status) {
      g.dataset.status = status;
      g.querySelector(".shape").style.fill = COLOURS[status] || COLOURS.unknown;
      g.classList.toggle("pulse", status === "critical");
    }
    g.classList.toggle("selected", g.dataset.uid === S.selected);
  }
}

/* ---------- element detail ---------- */
function select(uid) {
  S.selected = uid;
  const sensors = hostedSensors(uid);
  S.selectedSensor = sensors.length ? sensors[0].sensor.sensor_id : null;
  paintPlan(); renderDetail(true);
}

function renderDetail(withChart) {
  const box = $("#detail"); const el = S.elements.get(S.selected);
  if (!el) return;
  const h = S.health.get(el.unique_id) || {};
  const status = statusOf(el);
  const sensors = hostedSensors(el.unique_id);
  const alerts = [...S.alerts.values()].filter((a) => a.unique_id === el.unique_id ||
    sensors.some((s) => s.sensor.sensor_id === a.sensor_id)).sort((a, b) => b.updated_ts - a.updated_ts).slice(0, 8);
  const sp = spaceOf(el);
  box.innerHTML = `<h2>${esc(elName(el))}</h2>
    <div class="sub">${esc([catText(el.category), el.family, el.type].filter(Boolean).join(" · "))}${sp ? " — " + esc(sp.name) : ""}</div>
    <dl class="kv"><dt>Status</dt><dd><span class="chip ${status}" id="detail-status">${status}</span></dd>
    ${h.health_score != null ? `<dt>Health score</dt><dd>${fmtNum(h.health_score, 0)} / 100</dd>` : ""}
    ${h.failure_probability != null ? `<dt>Failure probability</dt><dd>${fmtNum(h.failure_probability * 100, 0)} %</dd>` : ""}
    ${h.ttf_hours != null ? `<dt>Time to failure</dt><dd>${fmtDuration(h.ttf_hours)}</dd>` : ""}
    ${h.drivers && h.drivers.length ? `<dt>Drivers</dt><dd>${esc(h.drivers.join(", "))}</dd>` : ""}
    ${el.mark ? `<dt>Mark</dt><dd>${esc(el.mark)}</dd>` : ""}</dl>
    ${sensors.length ? "<h3>Sensors</h3>" : ""}<ul class="sensor-list">${sensors.map((s) => {
      const last = S.latest.get(s.sensor.sensor_id);
      return `<li data-sensor="${esc(s.sensor.sensor_id)}" class="${s.sensor.sensor_id === S.selectedSensor ? "active" : ""}">
        <span>${esc(s.sensor.quantity)} <span class="muted">${esc(s.sensor.sensor_id)}</span></span>
        <span class="val">${last ? fmtNum(last[1]) + " " + esc(unitText(s.sensor.unit)) : "–"}</span></li>`; }).join("")}</ul>
    <div id="mini-chart" class="mini-chart"></div>
    <h3>Alerts</h3>${alerts.length ? alerts.map((a) => `<div class="alert-item ${a.severity}">
      <b>${esc(a.message)}</b><br><span class="muted">${fmtTime(a.raised_ts)} · ${esc(stateOf(a))}</span></div>`).join("")
      : '<div class="muted">No alerts.</div>'}`;
  for (const li of box.querySelectorAll(".sensor-list li")) li.onclick = () => {
    S.selectedSensor = li.dataset.sensor; renderDetail(true); };
  if (S.selectedSensor && window.Plotly) {
    if (withChart || !renderDetail.chart || renderDetail.chart.sensor !== S.selectedSensor) loadMiniChart(S.selectedSensor);
    else drawMini();
  }
}

async function loadMiniChart(sensorId) {
  const end = Date.now() / 1000, start = end - 86400;
  renderDetail.chart = { sensor: sensorId, data: null };
  try {
    const data = await api(`/api/history?sensor_id=${encodeURIComponent(sensorId)}&start=${start}&end=${end}&points=400`);
    if (renderDetail.chart && renderDetail.chart.sensor === sensorId) { renderDetail.chart.data = data; drawMini(); }
  } catch (e) { /* the list still shows the live value */ }
}

function drawMini() {
  const node = $("#mini-chart"); const c = renderDetail.chart;
  if (!node || !c || !c.data) return;
  const el = S.sensors.get(c.sensor);
  Plotly.react(node, seriesTraces(c.data, c.sensor, true), chartLayout(el, true), { displayModeBar: false, responsive: true });
}

function fmtDuration(hours) {
  if (hours == null) return "–";
  if (hours < 48) return fmtNum(hours, 1) + " h";
  return fmtNum(hours / 24, 1) + " days";
}

/* ---------- trends ---------- */
function themeColours() {
  const cs = getComputedStyle(document.documentElement);
  return { text: cs.getPropertyValue("--text").trim(), muted: cs.getPropertyValue("--muted").trim(),
    line: cs.getPropertyValue("--line").trim(), accent: cs.getPropertyValue("--accent").trim() };
}

function seriesTraces(data, sensorId, compact) {
  const x = data.ts.map((t) => new Date(t * 1000));
  const live = [];
  const last = S.latest.get(sensorId);
  if (last && (!data.ts.length || last[0] > data.ts[data.ts.length - 1])) live.push(last);
  const lx = x.concat(live.map((p) => new Date(p[0] * 1000))), ly = data.value.concat(live.map((p) => p[1]));
  const c = themeColours();
  const traces = [
    { x, y: data.max, mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false, name: "max" },
    { x, y: data.min, mode: "lines", line: { width: 0 }, fill: "tonexty", fillcolor: "rgba(91,156,255,0.18)",
      name: "min–max", hoverinfo: "skip", showlegend: !compact },
    { x: lx, y: ly, mode: "lines", line: { color: c.accent, width: 1.6 }, name: "value" },
  ];
  return traces;
}

function limitShapes(el) {
  const lim = (el && el.sensor && el.sensor.limits) || {};
  const shapes = [], colours = { low: COLOURS.warning, high: COLOURS.warning, low_critical: COLOURS.critical, high_critical: COLOURS.critical };
  for (const k of ["low", "high", "low_critical", "high_critical"]) if (lim[k] != null)
    shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: lim[k], y1: lim[k],
      line: { color: colours[k], width: 1.2, dash: k.endsWith("critical") ? "dash" : "dot" } });
  return shapes;
}

function limitLabels(el) {
  const lim = (el && el.sensor && el.sensor.limits) || {};
  const names = { low: "low", high: "high", low_critical: "low critical", high_critical: "high critical" };
  return Object.keys(names).filter((k) => lim[k] != null).map((k) => ({ xref: "paper", x: 1, xanchor: "right",
    y: lim[k], yanchor: "bottom", text: names[k], showarrow: false,
    font: { size: 10, color: k.endsWith("critical") ? COLOURS.critical : COLOURS.warning } }));
}

function chartLayout(el, compact) {
  const c = themeColours();
  const unit = el && el.sensor ? unitText(el.sensor.unit) : "";
  return { margin: compact ? { l: 40, r: 8, t: 8, b: 28 } : { l: 56, r: 20, t: 30, b: 40 },
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: { color: c.text, size: compact ? 10 : 12 },
    xaxis: { gridcolor: c.line, type: "date" }, yaxis: { gridcolor: c.line, title: compact ? undefined : { text: unit } },
    showlegend: !compact, legend: { orientation: "h", x: 1, xanchor: "right", y: 1.07 }, shapes: limitShapes(el),
    annotations: compact ? [] : limitLabels(el), uirevision: el ? el.unique_id : "x",
    title: compact ? undefined : { text: el ? `${esc(elName(el))} · ${esc(el.sensor.quantity)}` : "", font: { size: 14 }, x: 0 } };
}

function renderTrendPicker() {
  const sel = $("#trend-sensor"); const current = S.trend.sensor;
  const groups = new Map();
  for (const [sid, el] of S.sensors) {
    const host = el.sensor.host && S.elements.get(el.sensor.host);
    const key = host ? elName(host) : (spaceOf(el) || {}).name || "Sensors";
    if (!groups.has(key)) groups.set(key, []); groups.get(key).push([sid, el]);
  }
  sel.innerHTML = [...groups.keys()].sort().map((k) => `<optgroup label="${esc(k)}">` + groups.get(k).map(([sid, el]) =>
    `<option value="${esc(sid)}">${esc(el.sensor.quantity)} — ${esc(elName(el))} (${esc(sid)})</option>`).join("") + "</optgroup>").join("");
  if (current && S.sensors.has(current)) sel.value = current;
  else if (S.sensors.size) S.trend.sensor = sel.value;
}

async function loadTrend() {
  const t = S.trend; if (!t.sensor || !window.Plotly) return;
  const end = t.live || t.end == null ? Date.now() / 1000 : t.end;
  const start = t.live || t.start == null ? end - t.range : t.start;
  const node = $("#trend-chart"); const el = S.sensors.get(t.sensor);
  const ticket = (loadTrend.ticket = (loadTrend.ticket || 0) + 1);
  const data = await api(`/api/history?sensor_id=${encodeURIComponent(t.sensor)}&start=${start}&end=${end}&points=2000`);
  if (ticket !== loadTrend.ticket) return;   // a newer zoom superseded this one
  t.data = data;
  $("#trend-info").textContent = `${data.ts.length} points` + (data.ts.length >= 1800 ? " (min/max envelope)" : "");
  const layout = chartLayout(el, false);
  layout.xaxis.range = [new Date(start * 1000), new Date(end * 1000)];
  loadTrend.drawing = true;
  await Plotly.react(node, seriesTraces(data, t.sensor, false), layout, { responsive: true, displaylogo: false });
  loadTrend.drawing = false;
  if (!node._hooked) {
    node._hooked = true;
    node.on("plotly_relayout", (ev) => {
      if (loadTrend.drawing) return;
      if (ev["xaxis.autorange"]) { t.live = true; $("#trend-live").checked = true; scheduleTrend(); return; }
      const a = ev["xaxis.range[0]"] || (ev["xaxis.range"] && ev["xaxis.range"][0]);
      const b = ev["xaxis.range[1]"] || (ev["xaxis.range"] && ev["xaxis.range"][1]);
      if (a && b) {   // zoomed: re-fetch that window at full available resolution
        t.start = new Date(a).getTime() / 1000; t.end = new Date(b).getTime() / 1000; t.live = false;
        $("#trend-live").checked = false; scheduleTrend();
      }
    });
  }
}
function scheduleTrend() { clearTimeout(scheduleTrend.timer); scheduleTrend.timer = setTimeout(() => loadTrend().catch((e) => toast(e.message)), 250); }

function appendLiveToTrend(readings) {
  const t = S.trend;
  if (S.view !== "trends" || !t.live || !t.data || !window.Plotly) return;
  const pts = readings.filter((r) => r[0] === t.sensor);
  if (!pts.length) return;
  const node = $("#trend-chart");
  if (!node.data || node.data.length < 3) return;
  Plotly.extendTraces(node, { x: [pts.map((p) => new Date(p[1] * 1000))], y: [pts.map((p) => p[2])] }, [2]);
}

/* ---------- alerts ---------- */
function stateOf(a) {
  if (a.shelved || (a.shelved_until && a.shelved_until > Date.now() / 1000)) return "shelved";
  return a.state;
}

function renderAlerts() {
  const f = S.alertFilter; const text = f.text.toLowerCase();
  const rows = [...S.alerts.values()].filter((a) => {
    const st = stateOf(a);
    if (f.state === "open" && (st === "cleared" || st === "shelved")) return false;
    if (!["open", "all"].includes(f.state) && st !== f.state) return false;
    if (f.severity && a.severity !== f.severity) return false;
    if (text) { const el = S.elements.get(a.unique_id);
      if (!(a.message + " " + elName(el) + " " + (a.sensor_id || "")).toLowerCase().includes(text)) return false; }
    return true;
  }).sort((a, b) => (RANK[SEVERITY_STATUS[b.severity]] - RANK[SEVERITY_STATUS[a.severity]]) || (b.raised_ts - a.raised_ts));
  const tbody = $("#alert-table tbody");
  tbody.innerHTML = rows.slice(0, 300).map((a) => {
    const el = S.elements.get(a.unique_id); const st = stateOf(a);
    const sensorEl = a.sensor_id && S.sensors.get(a.sensor_id);
    const unit = sensorEl ? unitText(sensorEl.sensor.unit) : "";
    return `<tr data-alert="${esc(a.alert_id)}" data-state="${esc(st)}">
      <td class="num">${fmtTime(a.raised_ts)}</td><td><span class="chip ${SEVERITY_STATUS[a.severity] || "unknown"}">${esc(a.severity)}</span></td>
      <td><a href="#" data-goto="${esc(a.unique_id)}">${esc(elName(el) || a.unique_id)}</a></td><td>${esc(a.message)}</td>
      <td class="num">${a.value != null ? fmtNum(a.value) + " " + esc(unit) : ""}${a.threshold != null ? ` <span class="muted">/ ${fmtNum(a.threshold)}</span>` : ""}</td>
      <td class="alert-state">${esc(st)}${a.acknowledged_by ? ` <span class="muted">by ${esc(a.acknowledged_by)}</span>` : ""}</td>
      <td class="actions">${st === "active" ? `<button class="btn small" data-ack="${esc(a.alert_id)}">Acknowledge</button>` : ""}
        ${st === "active" || st === "acknowledged" ? `<button class="btn small ghost" data-shelve="${esc(a.alert_id)}">Shelve</button>` : ""}
        ${st === "shelved" ? `<button class="btn small ghost" data-unshelve="${esc(a.alert_id)}">Unshelve</button>` : ""}</td></tr>`;
  }).join("");
  $("#alerts-empty").hidden = rows.length > 0;
  renderAlertMetrics();
}

function renderAlertMetrics() {
  const now = Date.now() / 1000; const all = [...S.alerts.values()];
  const open = all.filter((a) => a.state !== "cleared");
  const metrics = [
    ["Active", open.length], ["Unacknowledged", open.filter((a) => stateOf(a) === "active").length],
    ["Critical", open.filter((a) => a.severity === "critical").length],
    ["Raised last hour", all.filter((a) => a.raised_ts > now - 3600).length],
    ["Standing > 24 h", open.filter((a) => a.raised_ts < now - 86400).length],
  ];
  // Alarm-rate metrics from the sidecar (ISA-18.2: alarms per 10 min, chattering, stale), when it has them.
  const m = S.status.alarm_metrics || {};
  for (const [k, label] of ALARM_RATE_METRICS) if (typeof m[k] === "number") metrics.push([label, fmtNum(m[k], Number.isInteger(m[k]) ? 0 : 1)]);
  if (m.flood) metrics.push(["Alarm flood since", fmtTime(m.flood_since_ts)]);
  $("#alert-metrics").innerHTML = metrics.map(([k, v]) => `<div class="metric"><b>${v}</b><span>${esc(k)}</span></div>`).join("");
  const unacked = open.filter((a) => stateOf(a) === "active").length;
  const badge = $("#alert-badge"); badge.hidden = unacked === 0; badge.textContent = unacked;
}

function ackUser() { return ($("#ack-user").value || "").trim() || localStorage.getItem("revitpyiot.user") || "dashboard"; }

async function onAlertAction(ev) {
  const t = ev.target;
  if (t.dataset.goto) { ev.preventDefault(); showView("overview"); const el = S.elements.get(t.dataset.goto);
    if (el) { S.level = el._level; renderLevels(); renderPlan(); select(el.unique_id); } return; }
  const user = ackUser();
  try {
    if (t.dataset.ack) { t.disabled = true; await command("ack", { alert_id: t.dataset.ack, user }); toast("Acknowledged"); }
    else if (t.dataset.shelve) { t.disabled = true;
      await command("shelve", { alert_id: t.dataset.shelve, duration_s: Number($("#shelve-duration").value), user }); toast("Shelved"); }
    else if (t.dataset.unshelve) { t.disabled = true; await command("unshelve", { alert_id: t.dataset.unshelve, user }); }
  } catch (e) { t.disabled = false; toast(e.message); }
}

/* ---------- maintenance ---------- */
function renderMaintenance() {
  const rows = [...S.elements.values()].filter((e) => e.kind === "equipment").map((e) => ({ e, h: S.health.get(e.unique_id) || {} }))
    .sort((a, b) => ((b.h.failure_probability ?? -1) - (a.h.failure_probability ?? -1)) || ((a.h.health_score ?? 101) - (b.h.health_score ?? 101)));
  const orders = S.status.work_orders || [];
  $("#pm-table tbody").innerHTML = rows.map(({ e, h }) => {
    const status = statusOf(e); const p = h.failure_probability;
    const wo = orders.find((w) => w.unique_id === e.unique_id) || h.work_order;
    return `<tr data-uid="${esc(e.unique_id)}"><td><a href="#" data-goto="${esc(e.unique_id)}">${esc(elName(e))}</a><br><span class="muted">${esc(catText(e.category))}</span></td>
      <td class="num">${h.health_score != null ? `<span class="bar"><i style="width:${h.health_score}%;background:${COLOURS[status]}"></i></span>${fmtNum(h.health_score, 0)}` : "–"}</td>
      <td><span class="chip ${status}">${status}</span></td>
      <td class="num">${p != null ? `<span class="bar"><i style="width:${p * 100}%;background:${p > 0.5 ? COLOURS.critical : p > 0.2 ? COLOURS.warning : COLOURS.ok}"></i></span>${fmtNum(p * 100, 0)} %` : "–"}</td>
      <td class="num">${fmtDuration(h.ttf_hours)}</td><td>${esc((h.drivers || []).join(", "))}</td>
      <td>${wo ? esc(typeof wo === "string" ? wo : [wo.id, wo.title, wo.state].filter(Boolean).join(" · ")) : '<span class="muted">–</span>'}</td></tr>`;
  }).join("") || '<tr><td colspan="7" class="muted">No equipment in this building.</td></tr>';
}

/* ---------- system ---------- */
function stateText(v) { return typeof v === "object" && v ? (v.state || JSON.stringify(v)) : String(v); }
function stateChip(s) {
  const chip = /^(running|connected|ok|up|monitoring)$/.test(s) ? "ok" : /error|fail|down|disconnected/.test(s) ? "critical"
    : /connect|retry|backoff|start/.test(s) ? "warning" : "unknown";
  return `<span class="chip ${chip}">${esc(s)}</span>`;
}
const kv = (pairs) => pairs.filter((p) => p[1] != null && p[1] !== "").map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("");
function fmtBytes(n) { return n == null ? null : n < 1024 ? n + " B" : n < 1048576 ? fmtNum(n / 1024, 1) + " KiB" : fmtNum(n / 1048576, 1) + " MiB"; }

/* status.cloud: {name: {state, backlog, messages_per_s, delivered, last_error, ...}} (or a bare state string) */
function renderCloud(cloud) {
  const rows = Object.entries(cloud || {}).map(([name, v]) => {
    const c = typeof v === "object" && v ? v : { state: String(v) };
    const backlog = c.backlog != null ? fmtNum(c.backlog, 0) + (c.oldest_backlog_s ? ` <span class="muted">(oldest ${fmtDuration(c.oldest_backlog_s / 3600)})</span>` : "") : "–";
    const when = c.last_error_ts ? ` <span class="muted">${fmtTime(c.last_error_ts)}</span>` : "";
    return `<tr data-connector="${esc(name)}"><td>${esc(name)}${c.kind && c.kind !== name ? ` <span class="muted">${esc(c.kind)}</span>` : ""}</td>
      <td>${stateChip(stateText(c))}</td><td class="num backlog">${backlog}</td>
      <td class="num rate">${c.messages_per_s != null ? fmtNum(c.messages_per_s, 1) : "–"}</td>
      <td class="num">${c.delivered != null ? fmtNum(c.delivered, 0) : "–"}</td>
      <td class="error-text">${c.last_error ? esc(c.last_error) + when : '<span class="muted">–</span>'}</td></tr>`;
  });
  $("#sys-cloud tbody").innerHTML = rows.join("");
  $("#sys-cloud").hidden = rows.length === 0;
  $("#sys-cloud-empty").hidden = rows.length > 0;
}

function renderSystem() {
  const st = S.status; const pill = $("#state-pill");
  pill.textContent = st.state || "unknown"; pill.className = "pill " + (st.state || "");
  $("#kpi-rate").textContent = st.readings_per_s != null ? fmtNum(st.readings_per_s, 0) : "–";
  // alert events are live, the status only every few seconds: count what this page holds
  $("#kpi-alerts").textContent = S.alerts.size ? [...S.alerts.values()].filter((a) => a.state !== "cleared").length : (st.active_alerts ?? "–");
  $("#sys-sidecar").innerHTML = kv([["State", st.state], ["Building", st.building_id], ["Sensors", st.sensors],
    ["Readings/s", st.readings_per_s != null ? fmtNum(st.readings_per_s, 1) : null], ["Active alerts", st.active_alerts],
    ["Uptime", st.uptime_s != null ? fmtDuration(st.uptime_s / 3600) : null]]);
  $("#sys-sources tbody").innerHTML = Object.entries(st.sources || {}).map(([name, v]) =>
    `<tr><td>${esc(name)}</td><td>${stateChip(stateText(v))}</td></tr>`).join("")
    || '<tr><td class="muted">No polling sources: readings arrive by ingest only.</td></tr>';
  const h = st.historian;
  $("#sys-historian").innerHTML = h ? kv([["Backend", h.backend], ["Rows stored", h.rows != null ? fmtNum(h.rows, 0) : null],
    ["Backlog", h.backlog != null ? fmtNum(h.backlog, 0) : null], ["Rows written", h.rows_written],
    ["Last flush", h.last_flush_ts ? fmtTime(h.last_flush_ts) + (h.last_flush_ms != null ? ` (${fmtNum(h.last_flush_ms, 1)} ms)` : "") : null],
    ["Journal not yet synced", fmtBytes(h.journal_unsynced_bytes)], ["Too old to store", h.too_old || null],
    ["Replayed at start", h.replayed || null], ["Errors", h.errors], ["Last error", h.last_error || null]])
    : '<dt>Historian</dt><dd class="muted">off: history comes from memory only</dd>';
  const m = st.alarm_metrics;
  $("#sys-alarms").innerHTML = m ? kv(ALARM_METRICS.filter(([k]) => m[k] != null).map(([k, label]) => [label, m[k]])
    .concat([["Flood", m.flood ? "yes, since " + fmtTime(m.flood_since_ts) : "no"]]))
    : '<dt>Alarms</dt><dd class="muted">no building configured yet</dd>';
  renderCloud(st.cloud);
  $("#sys-notifications tbody").innerHTML = Object.entries(st.notifications || {}).map(([name, n]) =>
    `<tr><td>${esc(name)} <span class="muted">${esc(n.type || "")}</span></td><td class="num">${esc(n.sent ?? 0)} sent, ${esc(n.failed ?? 0)} failed, ${esc(n.queued ?? 0)} queued</td>
      <td class="error-text">${esc(n.last_error || "")}</td></tr>`).join("")
    || '<tr><td class="muted">No notification channels configured.</td></tr>';
  const d = S.dashboard || {};
  $("#sys-dashboard").innerHTML = kv([["Live clients", d.clients], ["Snapshots sent", d.snapshots], ["Resyncs (slow clients)", d.resyncs],
    ["Messages pushed", d.messages]]);
  $("#btn-start").disabled = st.state === "monitoring"; $("#btn-stop").disabled = st.state !== "monitoring";
}

/* ---------- live feed ---------- */
let dirty = { plan: false, detail: false, alerts: false, pm: false, system: false };
function markDirty(...keys) { for (const k of keys) dirty[k] = true; if (!markDirty.raf) markDirty.raf = requestAnimationFrame(flushDirty); }
function flushDirty() {
  markDirty.raf = 0;
  if (dirty.plan) paintPlan();
  if (dirty.detail && S.selected && S.view === "overview") renderDetailThrottled();
  if (dirty.alerts) renderAlerts();
  if (dirty.pm && S.view === "maintenance") renderMaintenance();
  if (dirty.system) renderSystem();
  dirty = { plan: false, detail: false, alerts: false, pm: false, system: false };
}
function renderDetailThrottled() {
  const now = performance.now();
  if (now - (renderDetailThrottled.last || 0) < 700) { clearTimeout(renderDetailThrottled.t);
    renderDetailThrottled.t = setTimeout(() => { renderDetailThrottled.last = performance.now(); renderDetail(false); }, 700); return; }
  renderDetailThrottled.last = now; renderDetail(false);
}

function applyMessage(msg) {
  switch (msg.type) {
    case "snapshot":
      S.health = new Map((msg.health || []).map((h) => [h.unique_id, h]));
      S.alerts = new Map((msg.alerts || []).map((a) => [a.alert_id, a]));
      S.latest = new Map(Object.entries(msg.latest || {}));
      S.status = msg.status || {}; S.dashboard = msg.dashboard || {};
      markDirty("plan", "detail", "alerts", "pm", "system"); break;
    case "readings":
      for (const [sid, ts, v] of msg.r) S.latest.set(sid, [ts, v]);
      appendLiveToTrend(msg.r); markDirty("plan", "detail"); break;
    case "alert": {
      const a = msg.alert; const before = S.alerts.get(a.alert_id);
      S.alerts.set(a.alert_id, a);
      if (!before && a.severity === "critical" && a.state === "active") toast("Critical: " + a.message);
      markDirty("plan", "detail", "alerts", "system"); break; }
    case "health":
      for (const h of msg.items) S.health.set(h.unique_id, h);
      markDirty("plan", "detail", "pm"); break;
    case "status":
      S.status = msg.status || {}; S.dashboard = msg.dashboard || S.dashboard;
      markDirty("system", "alerts", "pm"); break;
  }
}

function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  ws.onopen = () => { $("#conn").classList.add("up"); connect.delay = 500; };
  ws.onmessage = (ev) => { try { applyMessage(JSON.parse(ev.data)); } catch (e) { console.error(e); } };
  ws.onclose = () => { $("#conn").classList.remove("up");
    connect.delay = Math.min((connect.delay || 500) * 2, 10000); setTimeout(connect, connect.delay); };
}

/* ---------- shell ---------- */
function showView(name) {
  S.view = name;
  for (const b of document.querySelectorAll(".tab")) b.classList.toggle("active", b.dataset.view === name);
  for (const v of document.querySelectorAll(".view")) v.classList.toggle("active", v.id === "view-" + name);
  if (name === "trends") { renderTrendPicker(); loadTrend().catch((e) => toast(e.message)); }
  if (name === "alerts") renderAlerts();
  if (name === "maintenance") renderMaintenance();
  if (name === "system") renderSystem();
  if (name === "overview" && S.selected) renderDetail(true);
}

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme; localStorage.setItem("revitpyiot.theme", theme);
  if (S.view === "trends" && S.trend.data) loadTrend().catch(() => {});
  if (S.selected) drawMini();
}

async function init() {
  applyTheme(localStorage.getItem("revitpyiot.theme") ||
    (matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark"));
  $("#theme-toggle").onclick = () => applyTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark");
  for (const b of document.querySelectorAll(".tab")) b.onclick = () => showView(b.dataset.view);
  $("#trend-sensor").onchange = (e) => { S.trend.sensor = e.target.value; S.trend.live = true; $("#trend-live").checked = true; loadTrend().catch((x) => toast(x.message)); };
  for (const b of document.querySelectorAll("#trend-ranges button")) b.onclick = () => {
    for (const o of document.querySelectorAll("#trend-ranges button")) o.classList.toggle("active", o === b);
    S.trend.range = Number(b.dataset.range); S.trend.live = true; $("#trend-live").checked = true; loadTrend().catch((x) => toast(x.message)); };
  $("#trend-live").onchange = (e) => { S.trend.live = e.target.checked; if (S.trend.live) loadTrend().catch(() => {}); };
  for (const b of document.querySelectorAll("#alert-state-filter button")) b.onclick = () => {
    for (const o of document.querySelectorAll("#alert-state-filter button")) o.classList.toggle("active", o === b);
    S.alertFilter.state = b.dataset.state; renderAlerts(); };
  $("#alert-severity").onchange = (e) => { S.alertFilter.severity = e.target.value; renderAlerts(); };
  $("#alert-search").oninput = (e) => { S.alertFilter.text = e.target.value; renderAlerts(); };
  $("#ack-user").value = localStorage.getItem("revitpyiot.user") || "";
  $("#ack-user").onchange = (e) => { const v = e.target.value.trim();
    if (v) localStorage.setItem("revitpyiot.user", v); else localStorage.removeItem("revitpyiot.user"); };
  $("#alert-table").addEventListener("click", onAlertAction);
  $("#pm-table").addEventListener("click", onAlertAction);
  $("#btn-start").onclick = () => command("start").then(() => toast("Monitoring started")).catch((e) => toast(e.message));
  $("#btn-stop").onclick = () => command("stop").then(() => toast("Monitoring stopped")).catch((e) => toast(e.message));
  try { loadBuilding((await api("/api/building")).building); } catch (e) { toast(e.message); }
  renderLevels(); renderPlan(); connect();
  document.body.dataset.ready = "1";
  setInterval(() => { if (S.view === "trends" && S.trend.live && S.trend.data) loadTrend().catch(() => {}); }, 60000);
  setInterval(() => api("/api/building").then((r) => {   // a re-export from Revit replaces the building
    const b = r.building; if (JSON.stringify(b && [b.building_id, b.exported_ts]) !== JSON.stringify(S.building && [S.building.building_id, S.building.exported_ts])) {
      loadBuilding(b); renderLevels(); renderPlan(); } }).catch(() => {}), 15000);
}

document.addEventListener("DOMContentLoaded", init);

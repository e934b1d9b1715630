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
  selected: null, selectedSensor: null, view: "overview", units: {}, keys: [],
  trend: { sensor: null, range: 86400, start: null, end: null, live: true, data: null, fit: true },
  plan: { zoom: 1, cx: null, cy: null, base: null },
  replay: { t: null, values: new Map(), ticket: 0 },
  alertFilter: { state: "open", severity: "", text: "" },
};

const $ = (sel) => document.querySelector(sel);
const esc = (v) => String(v == null ? "" : v).replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const fmtTime = (ts) => ts ? new Date(ts * 1000).toLocaleString([], { month: "short", day: "numeric",
  hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "–";
const fmtNum = (v, d = 1) => (v == null || !isFinite(v)) ? "–" : Number(v).toFixed(d);
/* UCUM code -> symbol: the server's table (sidecar/dashboard/units.py, sent with the building); these few
   only until it has arrived. The wire keeps UCUM. */
const UNIT_FALLBACK = { Cel: "°C", "kW.h": "kWh", "{persons}": "people", "1": "", "ug/m3": "µg/m³", m3: "m³" };
const unitText = (u) => (u == null ? "" : (S.units[u] ?? UNIT_FALLBACK[u] ?? u));
/* a reading with its unit symbol, with as many decimals as its size deserves */
function fmtValue(v, unit) {
  if (v == null || !isFinite(v)) return "–";
  const a = Math.abs(v), d = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  const sym = unitText(unit);
  return Number(v).toFixed(d) + (sym ? " " + sym : "");
}
/* 0.004 -> "<1 %", 0.415 -> "42 %"; never wraps (callers put it in .nowrap cells) */
function fmtPct(p) {
  if (p == null || !isFinite(p)) return "–";
  if (p > 0 && p < 0.01) return "<1 %";
  return Math.round(p * 100) + " %";
}
/* seconds -> "45 s", "12 min", "3.5 h", "2.1 days" */
function fmtSeconds(s) {
  if (s == null || !isFinite(s)) return "–";
  if (s < 60) return Math.round(s) + " s";
  if (s < 3600) return Math.round(s / 60) + " min";
  if (s < 48 * 3600) return (s < 36000 ? fmtNum(s / 3600, 1) : Math.round(s / 3600)) + " h";
  return fmtNum(s / 86400, 1) + " days";
}
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
    b.onclick = () => { S.level = l.unique_id; S.selected = null; renderLevels(); renderPlan();
      if (S.replay.t != null) setReplay(S.replay.t); updateUrl(); };
    box.appendChild(b);
  }
  $("#legend").innerHTML = ["ok", "watch", "warning", "critical", "unknown"].map((s) =>
    `<span><i class="dot" style="background:${COLOURS[s]}"></i>${s}</span>`).join("") +
    '<span><i class="sq"></i>equipment</span><span><i class="dot" style="border:1.5px solid var(--muted)"></i>sensor</span>';
}

/* On-screen sizes (CSS pixels) of what the plan draws; geometry is in metres and zooms, markers and
   labels keep these sizes so zooming in pulls crowded equipment apart instead of magnifying it. */
const PLAN_PX = { equipment: 9, sensor: 5, label: 11, spaceLabel: 11, ring: 3 };

function spacesOnLevel() {
  if (!S.building) return [];
  const level = S.levels.find((l) => l.unique_id === S.level);
  return (S.building.spaces || []).filter((sp) => sp.level === S.level || (level && sp.level === level.name));
}
const hasOutline = (sp) => Array.isArray(sp.outline) && sp.outline.some((loop) => Array.isArray(loop) && loop.length >= 3);

/* Whole-building extent (elements and outlines) so every level shares one scale and orientation. */
function planExtent() {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  const add = (x, y) => { if (isFinite(x) && isFinite(y)) { minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y); } };
  for (const e of S.elements.values()) if (e.location) add(e.location[0], e.location[1]);
  for (const sp of (S.building && S.building.spaces) || []) if (hasOutline(sp)) for (const loop of sp.outline) for (const p of loop) add(p[0], p[1]);
  if (!isFinite(minX)) return null;
  return { minX, minY, maxX, maxY };
}

function planViewBox() {
  const b = S.plan.base, z = S.plan.zoom;
  const w = b.w / z, h = b.h / z;
  const cx = S.plan.cx ?? b.x + b.w / 2, cy = S.plan.cy ?? b.y + b.h / 2;
  return { x: cx - w / 2, y: cy - h / 2, w, h };
}

/* CSS pixels per metre at the current zoom (the SVG keeps its aspect: "meet") */
function pxPerMetre(svg, vb) {
  const w = svg.clientWidth || 800, h = svg.clientHeight || 500;
  return Math.min(w / vb.w, h / vb.h);
}

function outlinePath(loops) {
  return loops.filter((l) => l.length >= 3).map((loop) => "M" + loop.map((p) => `${p[0]},${-p[1]}`).join("L") + "Z").join("");
}

/* Where each element is drawn. A sensor sitting on its host's marker is moved onto a ring just
   outside it (joined by a short line), so the host stays clickable whatever it carries. */
function displayPositions(els, px) {
  const pos = new Map(), eqR = PLAN_PX.equipment / px, sR = PLAN_PX.sensor / px;
  for (const e of els) pos.set(e.unique_id, [e.location[0], e.location[1]]);
  const satellites = new Map();
  for (const e of els) {
    if (e.kind === "equipment" || !e.sensor || !e.sensor.host) continue;
    const host = S.elements.get(e.sensor.host);
    if (!host || !host.location || host._level !== S.level) continue;
    const dx = e.location[0] - host.location[0], dy = e.location[1] - host.location[1];
    if (Math.hypot(dx, dy) > eqR * 1.5 + sR) continue;    // clear of the host already
    if (!satellites.has(host.unique_id)) satellites.set(host.unique_id, []);
    satellites.get(host.unique_id).push(e);
  }
  for (const [hostId, sats] of satellites) {
    const host = S.elements.get(hostId), ring = eqR * 1.5 + sR * 1.6;
    sats.forEach((e, i) => {
      const angle = Math.PI / 4 + (i * 2 * Math.PI) / Math.max(sats.length, 4);  // from the upper right, clockwise
      pos.set(e.unique_id, [host.location[0] + ring * Math.cos(angle), host.location[1] + ring * Math.sin(angle)]);
    });
  }
  return pos;
}

/* "2.14 · Büro 2.14" when it fits the room's width on screen, else the number alone, else nothing
   (zooming in brings it back); ~0.6 em per character */
function spaceLabel(sp, widthPx) {
  const full = [sp.number, sp.name].filter(Boolean).join(" · "), em = PLAN_PX.spaceLabel * 0.6;
  if (full.length * em <= widthPx) return full;
  if (sp.number && sp.number.length * em <= widthPx) return sp.number;
  return "";
}

function renderPlan() {
  const svg = $("#floorplan"); svg.innerHTML = "";
  const els = [...S.elements.values()].filter((e) => e._level === S.level && e.location);
  const spaces = spacesOnLevel();
  $("#plan-empty").hidden = els.length > 0 || !!S.building && S.elements.size > 0;
  if (!S.building) { $("#plan-empty").hidden = false; return; }
  const ext = planExtent();
  if (!ext) return;
  const extent = Math.max(ext.maxX - ext.minX, ext.maxY - ext.minY, 10), pad = extent * 0.04;
  S.plan.base = { x: ext.minX - pad, y: -ext.maxY - pad, w: ext.maxX - ext.minX + 2 * pad, h: ext.maxY - ext.minY + 2 * pad };
  const vb = planViewBox();
  svg.setAttribute("viewBox", `${vb.x} ${vb.y} ${vb.w} ${vb.h}`);
  svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
  svg.dataset.zoom = S.plan.zoom.toFixed(2);
  const px = pxPerMetre(svg, vb), unit = 1 / px;
  const spaceLayer = svgEl("g", { class: "spaces" }, svg);
  // Real outlines where the export has them (with holes: even-odd fill) ...
  const outlined = spaces.filter(hasOutline);
  for (const sp of outlined) {
    const g = svgEl("g", { class: "space outline", "data-space": sp.unique_id }, spaceLayer);
    svgEl("path", { d: outlinePath(sp.outline), "fill-rule": "evenodd" }, g);
    let x0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const p of sp.outline[0]) { x0 = Math.min(x0, p[0]); x1 = Math.max(x1, p[0]); y1 = Math.max(y1, p[1]); }
    const text = spaceLabel(sp, (x1 - x0) * px - 12);
    if (!text) continue;
    const label = svgEl("text", { x: x0 + unit * 6, y: -y1 + unit * (6 + PLAN_PX.spaceLabel), "font-size": unit * PLAN_PX.spaceLabel }, g);
    label.textContent = text;
  }
  // ... otherwise (older exports) the padded extent of what each space holds.
  const done = new Set(outlined.map((sp) => sp.unique_id));
  const bySpace = new Map();
  for (const e of els) { const sp = spaceOf(e); if (sp && !done.has(sp.unique_id)) { if (!bySpace.has(sp.unique_id)) bySpace.set(sp.unique_id, { sp, els: [] }); bySpace.get(sp.unique_id).els.push(e); } }
  const u = extent / 100;
  for (const { sp, els: members } of bySpace.values()) {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const e of members) { x0 = Math.min(x0, e.location[0]); x1 = Math.max(x1, e.location[0]);
      y0 = Math.min(y0, e.location[1]); y1 = Math.max(y1, e.location[1]); }
    const m = u * 4, minSize = u * 12;
    const w = Math.max(x1 - x0 + 2 * m, minSize), h = Math.max(y1 - y0 + 2 * m + u * 3, minSize);
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    const g = svgEl("g", { class: "space fallback", "data-space": sp.unique_id }, spaceLayer);
    svgEl("rect", { x: cx - w / 2, y: -cy - h / 2 - u * 1.5, width: w, height: h, rx: u }, g);
    const label = svgEl("text", { x: cx - w / 2 + unit * 6, y: -cy - h / 2 - u * 1.5 + unit * (6 + PLAN_PX.spaceLabel), "font-size": unit * PLAN_PX.spaceLabel }, g);
    label.textContent = [sp.number, sp.name].filter(Boolean).join(" · ");
  }
  const pos = displayPositions(els, px);
  const linkLayer = svgEl("g", { class: "links" }, svg);
  const sensorLayer = svgEl("g", { class: "sensors" }, svg);
  const equipmentLayer = svgEl("g", { class: "equipment" }, svg);   // above the sensors: a host always wins the click
  const labelLayer = svgEl("g", { class: "labels" }, svg);
  const eqR = PLAN_PX.equipment * unit, sR = PLAN_PX.sensor * unit;
  for (const e of els) {
    const [x, y] = pos.get(e.unique_id);
    if (e.sensor && e.sensor.host) {
      const host = S.elements.get(e.sensor.host);
      if (host && host.location && host._level === S.level) {
        const [hx, hy] = pos.get(host.unique_id) || host.location;
        svgEl("line", { class: "host-link", x1: x, y1: -y, x2: hx, y2: -hy }, linkLayer);
      }
    }
    const isEq = e.kind === "equipment";
    const g = svgEl("g", { class: "el", "data-uid": e.unique_id, "data-kind": e.kind, tabindex: 0 }, isEq ? equipmentLayer : sensorLayer);
    const title = svgEl("title", {}, g); title.textContent = elName(e) + (e.category ? " (" + catText(e.category) + ")" : "");
    const ring = PLAN_PX.ring * unit;
    if (isEq) {
      svgEl("rect", { class: "ring", x: x - eqR - ring, y: -y - eqR - ring, width: 2 * (eqR + ring), height: 2 * (eqR + ring), rx: eqR * 0.4 }, g);
      svgEl("rect", { class: "shape", x: x - eqR, y: -y - eqR, width: 2 * eqR, height: 2 * eqR, rx: eqR * 0.3 }, g);
      const label = svgEl("text", { class: "eq-label", x, y: -y + eqR + unit * (PLAN_PX.label + 2), "font-size": unit * PLAN_PX.label, "text-anchor": "middle", "data-for": e.unique_id }, labelLayer);
      label.textContent = e.mark || elName(e);
    } else {
      svgEl("circle", { class: "ring", cx: x, cy: -y, r: sR + ring }, g);
      svgEl("circle", { class: "shape", cx: x, cy: -y, r: sR }, g);
    }
    g.addEventListener("click", (ev) => { if (planPan.moved) return; ev.stopPropagation(); select(e.unique_id); });
    g.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); select(e.unique_id); } });
  }
  paintPlan();
}

function paintPlan() {
  const replaying = S.replay.t != null;
  for (const g of document.querySelectorAll("#floorplan .el")) {
    const el = S.elements.get(g.dataset.uid); if (!el) continue;
    const status = replaying ? replayStatusOf(el) : statusOf(el);
    if (g.dataset.status !== status) {
      g.dataset.status = status;
      g.querySelector(".shape").style.fill = COLOURS[status] || COLOURS.unknown;
      g.classList.toggle("pulse", status === "critical" && !replaying);
    }
    g.classList.toggle("selected", g.dataset.uid === S.selected);
  }
}

/* ---------- zoom and pan ---------- */
function zoomPlan(factor, atX, atY) {
  const svg = $("#floorplan"); if (!S.plan.base) return;
  const before = planViewBox();
  const z = Math.min(12, Math.max(1, S.plan.zoom * factor));
  // keep the plan point under the cursor where it is
  const rect = svg.getBoundingClientRect();
  const fx = atX == null ? 0.5 : (atX - rect.left) / rect.width, fy = atY == null ? 0.5 : (atY - rect.top) / rect.height;
  const px = pxPerMetre(svg, before);
  const mx = before.x + before.w / 2 + (fx - 0.5) * rect.width / px, my = before.y + before.h / 2 + (fy - 0.5) * rect.height / px;
  S.plan.zoom = z;
  const after = planViewBox(), px2 = pxPerMetre(svg, after);
  S.plan.cx = z === 1 ? null : mx - (fx - 0.5) * rect.width / px2;
  S.plan.cy = z === 1 ? null : my - (fy - 0.5) * rect.height / px2;
  renderPlan();
}
const planPan = { down: null, moved: false };
function initPlanZoom() {
  const svg = $("#floorplan");
  svg.addEventListener("wheel", (ev) => { ev.preventDefault(); zoomPlan(ev.deltaY < 0 ? 1.25 : 0.8, ev.clientX, ev.clientY); }, { passive: false });
  svg.addEventListener("pointerdown", (ev) => { if (S.plan.zoom > 1) planPan.down = { x: ev.clientX, y: ev.clientY, cx: planViewBox() }; planPan.moved = false; });
  svg.addEventListener("pointermove", (ev) => {
    const d = planPan.down; if (!d) return;
    const dx = ev.clientX - d.x, dy = ev.clientY - d.y;
    if (!planPan.moved && Math.hypot(dx, dy) < 4) return;
    planPan.moved = true;
    const px = pxPerMetre(svg, d.cx);
    S.plan.cx = d.cx.x + d.cx.w / 2 - dx / px; S.plan.cy = d.cx.y + d.cx.h / 2 - dy / px;
    const vb = planViewBox(); svg.setAttribute("viewBox", `${vb.x} ${vb.y} ${vb.w} ${vb.h}`);
  });
  const end = () => { planPan.down = null; setTimeout(() => { planPan.moved = false; }, 0); };
  svg.addEventListener("pointerup", end); svg.addEventListener("pointerleave", end);
  $("#zoom-in").onclick = () => zoomPlan(1.5);
  $("#zoom-out").onclick = () => zoomPlan(1 / 1.5);
  $("#zoom-reset").onclick = () => { S.plan.zoom = 1; S.plan.cx = S.plan.cy = null; renderPlan(); };
  let resize = 0;
  window.addEventListener("resize", () => { clearTimeout(resize); resize = setTimeout(() => { if (S.view === "overview") renderPlan(); }, 150); });
}

/* ---------- replay ---------- */
/* A past moment's colours come from each sensor's value then against its limits (health records
   are not kept historically): critical beyond a critical limit, warning beyond low/high. */
function limitStatus(sensorEl, value) {
  if (value == null || !isFinite(value)) return "unknown";
  const lim = (sensorEl.sensor && sensorEl.sensor.limits) || {};
  if ((lim.high_critical != null && value > lim.high_critical) || (lim.low_critical != null && value < lim.low_critical)) return "critical";
  if ((lim.high != null && value > lim.high) || (lim.low != null && value < lim.low)) return "warning";
  return "ok";
}
function replayStatusOf(el) {
  let status = null;
  for (const s of hostedSensors(el.unique_id)) {
    const v = S.replay.values.get(s.sensor.sensor_id);
    const st = v ? limitStatus(s, v[1]) : "unknown";
    if (!status || RANK[st] > RANK[status]) status = st;
  }
  return status || "unknown";
}
const REPLAY_SPAN_S = 86400;
function replaySliderRange(t) {
  const now = Date.now() / 1000, slider = $("#replay-slider");
  slider.min = String(-Math.max(REPLAY_SPAN_S, t != null ? Math.ceil((now - t) / 60) * 60 : 0));
  slider.max = "0";
}
async function setReplay(t) {
  const ticket = ++S.replay.ticket;
  const label = $("#replay-time"), slider = $("#replay-slider");
  if (t == null) {
    S.replay.t = null; S.replay.values = new Map();
    label.textContent = "Live"; label.dataset.t = ""; slider.value = "0";
    $("#replay-live").hidden = true; document.body.classList.remove("replaying");
    updateUrl(); paintPlan(); if (S.selected) renderDetail(false); return;
  }
  t = Math.min(t, Date.now() / 1000);
  replaySliderRange(t);
  slider.value = String(Math.round(t - Date.now() / 1000));
  S.replay.t = t;
  label.textContent = "Replay · " + fmtTime(t); label.dataset.t = "";
  $("#replay-live").hidden = false; document.body.classList.add("replaying");
  updateUrl();
  // the server picks the level's sensors (a long list would not fit in a URL); those the building
  // places by elevation only (no level in the export) are asked for by id
  const loose = [...S.elements.values()].filter((e) => e._level === S.level && e.sensor && e.sensor.sensor_id && !e.level);
  const query = loose.slice(0, 100).map((e) => "&sensor_id=" + encodeURIComponent(e.sensor.sensor_id)).join("");
  try {
    const data = await api(`/api/at?t=${t}&window=3600&level=${encodeURIComponent(S.level)}${query}`);
    if (ticket !== S.replay.ticket) return;   // the slider moved on
    S.replay.values = new Map(Object.entries(data.values || {}));
    paintPlan(); if (S.selected) renderDetail(false);
    label.dataset.t = String(Math.round(t));
  } catch (e) { toast(e.message); }
}
function initReplay() {
  const slider = $("#replay-slider");
  replaySliderRange(null);
  let timer = 0;
  slider.addEventListener("input", () => {
    const offset = Number(slider.value);
    $("#replay-time").textContent = offset === 0 ? "Live" : "Replay · " + fmtTime(Date.now() / 1000 + offset);
    clearTimeout(timer);
    timer = setTimeout(() => setReplay(offset === 0 ? null : Date.now() / 1000 + offset), 200);
  });
  $("#replay-live").onclick = () => setReplay(null);
}

/* ---------- routes: #/element/<unique_id>, #/level/<name>, #/alerts ..., ?t=<time> for a past moment ---------- */
const VIEWS = ["overview", "trends", "alerts", "maintenance", "system"];
function currentRoute() {
  if (S.view !== "overview") return "/" + S.view;
  if (S.selected) return "/element/" + encodeURIComponent(S.selected);
  const level = S.levels.find((l) => l.unique_id === S.level);
  return level ? "/level/" + encodeURIComponent(level.name) : "/overview";
}
function updateUrl() {
  if (updateUrl.applying) return;
  const params = new URLSearchParams(location.search);
  if (S.replay.t != null) params.set("t", String(Math.round(S.replay.t))); else params.delete("t");
  const search = params.toString();
  const url = location.pathname + (search ? "?" + search : "") + "#" + currentRoute();
  if (url !== location.pathname + location.search + location.hash) history.replaceState(null, "", url);
}
/* "1733650000", "1733650000.5" or anything Date.parse reads ("2026-12-08T04:00:00Z") */
function parseTime(text) {
  if (text == null || text === "") return null;
  const n = Number(text);
  if (isFinite(n)) return n > 1e11 ? n / 1000 : n;   // milliseconds tolerated
  const ms = Date.parse(text);
  return isFinite(ms) ? ms / 1000 : null;
}
function applyRoute() {
  updateUrl.applying = true;
  try {
    const path = location.hash.replace(/^#\/?/, "");
    const [head, ...rest] = path.split("/");
    const arg = rest.length ? decodeURIComponent(rest.join("/")) : "";
    if (head === "element" && arg) {
      const el = S.elements.get(arg);
      if (!el) toast("Not in this building: " + arg);
      else { showView("overview"); if (S.level !== el._level) { S.level = el._level; renderLevels(); renderPlan(); } select(el.unique_id); }
    } else if (head === "level" && arg) {
      const level = S.levels.find((l) => l.name === arg || l.unique_id === arg);
      if (!level) toast("No level " + arg);
      else { showView("overview"); S.level = level.unique_id; renderLevels(); renderPlan(); }
    } else if (VIEWS.includes(head)) showView(head);
    const t = parseTime(new URLSearchParams(location.search).get("t"));
    if (t != null && t !== S.replay.t) setReplay(t);
  } finally { updateUrl.applying = false; }
  updateUrl();
}

/* ---------- element detail ---------- */
function select(uid) {
  S.selected = uid;
  const el = S.elements.get(uid);
  if (el && el.location && S.plan.zoom > 1 && el._level === S.level) {   // zoomed in: bring it into view
    const vb = planViewBox(), [x, y] = el.location;
    if (x < vb.x || x > vb.x + vb.w || -y < vb.y || -y > vb.y + vb.h) { S.plan.cx = x; S.plan.cy = -y; renderPlan(); }
  }
  const sensors = hostedSensors(uid);
  S.selectedSensor = sensors.length ? sensors[0].sensor.sensor_id : null;
  paintPlan(); renderDetail(true); updateUrl();
}

function renderDetail(withChart) {
  const box = $("#detail"); const el = S.elements.get(S.selected);
  if (!el) return;
  const h = S.health.get(el.unique_id) || {};
  const replaying = S.replay.t != null;
  const status = replaying ? replayStatusOf(el) : statusOf(el);
  const sensors = hostedSensors(el.unique_id);
  const alerts = [...S.alerts.values()].filter((a) => a.unique_id === el.unique_id ||
    sensors.some((s) => s.sensor.sensor_id === a.sensor_id)).sort((a, b) => b.updated_ts - a.updated_ts).slice(0, 8);
  const sp = spaceOf(el);
  box.innerHTML = `<h2>${esc(elName(el))}</h2>
    <div class="sub">${esc([catText(el.category), el.family, el.type].filter(Boolean).join(" · "))}${sp ? " — " + esc(sp.name) : ""}</div>
    <dl class="kv"><dt>Status</dt><dd><span class="chip ${status}" id="detail-status">${status}</span></dd>
    ${h.health_score != null ? `<dt>Health score</dt><dd>${fmtNum(h.health_score, 0)} / 100</dd>` : ""}
    ${h.failure_probability != null ? `<dt>Failure probability</dt><dd class="nowrap">${fmtPct(h.failure_probability)}</dd>` : ""}
    ${h.ttf_hours != null ? `<dt>Time to failure</dt><dd>${fmtDuration(h.ttf_hours)}</dd>` : ""}
    ${h.drivers && h.drivers.length ? `<dt>Drivers</dt><dd>${esc(h.drivers.join(", "))}</dd>` : ""}
    ${el.mark ? `<dt>Mark</dt><dd>${esc(el.mark)}</dd>` : ""}</dl>
    ${sensors.length ? `<h3>Sensors${replaying ? " · " + esc(fmtTime(S.replay.t)) : ""}</h3>` : ""}<ul class="sensor-list">${sensors.map((s) => {
      const last = (replaying ? S.replay.values : S.latest).get(s.sensor.sensor_id);
      return `<li data-sensor="${esc(s.sensor.sensor_id)}" class="${s.sensor.sensor_id === S.selectedSensor ? "active" : ""}">
        <span>${esc(s.sensor.quantity)} <span class="muted">${esc(s.sensor.sensor_id)}</span></span>
        <span class="val">${last ? esc(fmtValue(last[1], s.sensor.unit)) : "–"}</span></li>`; }).join("")}</ul>
    <div id="mini-chart" class="mini-chart"></div>
    <h3>Alerts</h3>${alerts.length ? alerts.map((a) => `<div class="alert-item ${a.severity}">
      <b>${esc(messageText(a))}</b><br><span class="muted">${fmtTime(a.raised_ts)} · ${esc(STATE_TEXT[stateOf(a)] || stateOf(a))}</span></div>`).join("")
      : '<div class="muted">No alerts.</div>'}`;
  for (const li of box.querySelectorAll(".sensor-list li")) li.onclick = () => {
    S.selectedSensor = li.dataset.sensor; renderDetail(true); };
  if (S.selectedSensor && window.Plotly) {
    if (withChart || !renderDetail.chart || renderDetail.chart.sensor !== S.selectedSensor) loadMiniChart(S.selectedSensor);
    else drawMini();
  }
}

async function loadMiniChart(sensorId) {
  renderDetail.chart = { sensor: sensorId, data: null };
  try {
    const { start, end } = await fittedWindow(sensorId, Date.now() / 1000);
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

function fmtDuration(hours) { return hours == null ? "–" : fmtSeconds(hours * 3600); }

/* ---------- trends ---------- */
const TREND_RANGES = [3600, 21600, 86400, 604800];
const FIT_LOOKBACK_S = 604800, FIT_MIN_S = 600;
/* The window a chart opens at: where the data is (a fresh demo has minutes, not a day), at most a week. */
async function fittedWindow(sensorId, end) {
  const probe = await api(`/api/history?sensor_id=${encodeURIComponent(sensorId)}&start=${end - FIT_LOOKBACK_S}&end=${end}&points=50`);
  const last = S.latest.get(sensorId);
  const first = probe.ts && probe.ts.length ? probe.ts[0] : (last ? last[0] : end - FIT_MIN_S);
  const span = Math.max(end - first, 0);
  const range = TREND_RANGES.find((r) => r >= span * 1.05);
  if (range && range > 3600) return { start: end - range, end, range };
  if (range) return { start: end - Math.max(span * 1.1, FIT_MIN_S), end, range: Math.max(span * 1.1, FIT_MIN_S) };
  return { start: end - FIT_LOOKBACK_S, end, range: FIT_LOOKBACK_S };
}
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
  const ticket = (loadTrend.ticket = (loadTrend.ticket || 0) + 1);
  if (t.fit) {   // a sensor just opened: a window that fits its data, until the user picks one
    const fit = await fittedWindow(t.sensor, Date.now() / 1000);
    if (ticket !== loadTrend.ticket || !t.fit) return;
    t.range = fit.range; t.fit = false;
    for (const o of document.querySelectorAll("#trend-ranges button")) o.classList.toggle("active", Number(o.dataset.range) === t.range);
  }
  const end = t.live || t.end == null ? Date.now() / 1000 : t.end;
  const start = t.live || t.start == null ? end - t.range : t.start;
  const node = $("#trend-chart"); const el = S.sensors.get(t.sensor);
  const data = await api(`/api/history?sensor_id=${encodeURIComponent(t.sensor)}&start=${start}&end=${end}&points=2000`);
  if (ticket !== loadTrend.ticket) return;   // a newer zoom superseded this one
  t.data = data;
  $("#trend-info").textContent = `${data.ts.length} points` + (data.ts.length >= 1800 ? " (min/max envelope)" : "");
  $("#trend-info").dataset.range = String(Math.round(end - start));
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
/* ISA-18.2 state (Alert.isa_state; derived from the wire state for senders without it). A returned
   but unacknowledged alert ("unack_rtn", wire state "cleared") still needs its acknowledgement. */
const isaOf = (a) => a.isa_state || ({ active: "unack_active", acknowledged: "ack_active" }[a.state] || "normal");
const isShelved = (a, now) => !!(a.shelved || (a.shelved_until && a.shelved_until > (now ?? Date.now() / 1000)));
function stateOf(a) {
  if (isShelved(a)) return "shelved";
  if (isaOf(a) === "unack_rtn") return "returned";
  return a.state;
}
const STATE_TEXT = { returned: "returned, unacknowledged" };
const needsAck = (st) => st === "active" || st === "returned";

/* Every alert count the page shows (badge, top bar, Alerts and System views) comes from here, from the
   alerts this page holds (live events over a snapshot), with the sidecar's alarm_metrics definitions. */
function alertCounts() {
  const now = Date.now() / 1000;
  const c = { active: 0, unacknowledged: 0, acknowledged: 0, returned_unacknowledged: 0, shelved: 0, critical: 0, raised_last_hour: 0 };
  for (const a of S.alerts.values()) {
    const isa = isaOf(a), condition = isa === "unack_active" || isa === "ack_active";
    if (condition) c.active++;
    if (isa === "unack_active" || isa === "unack_rtn") c.unacknowledged++;
    if (isa === "ack_active") c.acknowledged++;
    if (isa === "unack_rtn") c.returned_unacknowledged++;
    if (isa !== "normal" && isShelved(a, now)) c.shelved++;
    if (condition && a.severity === "critical") c.critical++;
    if (a.raised_ts > now - 3600) c.raised_last_hour++;
  }
  return c;
}

/* The message as the sidecar wrote it, its UCUM unit codes shown as symbols ("19 Cel" -> "19 °C"). */
function messageText(a) {
  const sensorEl = a.sensor_id && S.sensors.get(a.sensor_id);
  const code = sensorEl && sensorEl.sensor.unit, sym = code ? unitText(code) : "";
  if (!code || sym === code || /^[0-9.]+$/.test(code)) return a.message || "";   // "1" would hit numbers
  const re = new RegExp(" " + code.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "(?![A-Za-z0-9.])", "g");
  return String(a.message || "").replace(re, sym ? " " + sym : "");
}
const signed = (v, d) => (v > 0 ? "+" : "") + fmtNum(v, d);
const decimals = (v) => { const x = Math.abs(v); return x >= 100 ? 0 : x >= 10 ? 1 : 2; };
/* Value and limit of an alert in the same unit: a rate of change and its limit both per minute. */
function alertValueHtml(a) {
  if (a.value == null) return "";
  const sensorEl = a.sensor_id && S.sensors.get(a.sensor_id);
  const sym = sensorEl ? unitText(sensorEl.sensor.unit) : "";
  const u = sym ? " " + sym : "", lim = (t) => ` <span class="muted limit">limit ${t}</span>`;
  const has = a.threshold != null;
  switch (a.kind) {
    case "rate_of_change": {
      const d = Math.max(decimals(a.value), has ? decimals(a.threshold) : 0);
      return esc(signed(a.value, d) + u + "/min") + (has ? lim(esc("±" + fmtNum(Math.abs(a.threshold), d) + u + "/min")) : ""); }
    case "stale": return esc("no data " + fmtSeconds(a.value)) + (has ? lim(esc(fmtSeconds(a.threshold))) : "");
    case "flatline": return esc(fmtValue(a.value, sensorEl && sensorEl.sensor.unit)) + (has ? lim(esc("flat " + fmtSeconds(a.threshold))) : "");
    case "anomaly": return esc("score " + fmtNum(a.value, 2)) + (has ? lim(esc(fmtNum(a.threshold, 2))) : "");
    case "failure_risk": return esc(fmtPct(a.value)) + (has ? lim(esc(fmtPct(a.threshold))) : "");
    default: {
      const d = Math.max(decimals(a.value), has ? decimals(a.threshold) : 0);
      return esc(fmtNum(a.value, d) + u) + (has ? lim(esc(fmtNum(a.threshold, d) + u)) : ""); }
  }
}

function renderAlerts() {
  const f = S.alertFilter; const text = f.text.toLowerCase();
  const rows = [...S.alerts.values()].filter((a) => {
    const st = stateOf(a);
    if (f.state === "open" && (st === "cleared" || st === "shelved")) return false;
    if (f.state === "active" && !needsAck(st)) return false;
    if (!["open", "all", "active"].includes(f.state) && st !== f.state) return false;
    if (f.severity && a.severity !== f.severity) return false;
    if (text) { const el = S.elements.get(a.unique_id);
      if (!(messageText(a) + " " + elName(el) + " " + (a.sensor_id || "")).toLowerCase().includes(text)) return false; }
    return true;
  }).sort((a, b) => (needsAck(stateOf(b)) - needsAck(stateOf(a))) ||
    (RANK[SEVERITY_STATUS[b.severity]] - RANK[SEVERITY_STATUS[a.severity]]) || (b.raised_ts - a.raised_ts));
  const tbody = $("#alert-table tbody");
  tbody.innerHTML = rows.slice(0, 300).map((a) => {
    const el = S.elements.get(a.unique_id); const st = stateOf(a);
    return `<tr data-alert="${esc(a.alert_id)}" data-state="${esc(st)}">
      <td class="num nowrap">${fmtTime(a.raised_ts)}</td><td><span class="chip ${SEVERITY_STATUS[a.severity] || "unknown"}">${esc(a.severity)}</span></td>
      <td><a href="#/element/${encodeURIComponent(a.unique_id)}" data-goto="${esc(a.unique_id)}">${esc(elName(el) || a.unique_id)}</a></td><td>${esc(messageText(a))}</td>
      <td class="num value">${alertValueHtml(a)}</td>
      <td class="alert-state">${esc(STATE_TEXT[st] || st)}${a.acknowledged_by ? ` <span class="muted">by ${esc(a.acknowledged_by)}</span>` : ""}</td>
      <td class="actions">${needsAck(st) ? `<button class="btn small" data-ack="${esc(a.alert_id)}">Acknowledge</button>` : ""}
        ${st === "active" || st === "acknowledged" ? `<button class="btn small ghost" data-shelve="${esc(a.alert_id)}">Shelve</button>` : ""}
        ${st === "shelved" ? `<button class="btn small ghost" data-unshelve="${esc(a.alert_id)}">Unshelve</button>` : ""}</td></tr>`;
  }).join("");
  $("#alerts-empty").hidden = rows.length > 0;
  renderAlertMetrics();
}

function renderAlertMetrics() {
  const c = alertCounts();
  const metrics = [["Active", c.active, "active"], ["Unacknowledged", c.unacknowledged, "unacknowledged"],
    ["Returned, unacknowledged", c.returned_unacknowledged, "returned_unacknowledged"],
    ["Critical", c.critical, "critical"], ["Raised last hour", c.raised_last_hour, "raised_last_hour"]];
  // Alarm-rate metrics only the sidecar can know (ISA-18.2: alarms per 10 min, chattering, stale).
  const m = S.status.alarm_metrics || {};
  for (const [k, label] of ALARM_RATE_METRICS) if (k === "shelved") metrics.push([label, c.shelved, k]);
    else if (typeof m[k] === "number") metrics.push([label, fmtNum(m[k], Number.isInteger(m[k]) ? 0 : 1), k]);
  $("#alert-metrics").innerHTML = metrics.map(([k, v, key]) => `<div class="metric" data-metric="${key}"><b>${v}</b><span>${esc(k)}</span></div>`).join("");
  const flood = $("#flood-banner");
  flood.hidden = !m.flood;
  if (m.flood) flood.textContent = `Alarm flood since ${fmtTime(m.flood_since_ts)}: ${m.suppressed || 0} lower-priority alerts held back until it ends. ` +
    "Alerts already raised stay here until acknowledged.";
  const badge = $("#alert-badge"); badge.hidden = c.unacknowledged === 0; badge.textContent = c.unacknowledged;
  $("#kpi-alerts").textContent = S.alerts.size || !S.status.active_alerts ? c.active : S.status.active_alerts;
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
    return `<tr data-uid="${esc(e.unique_id)}"><td><a href="#/element/${encodeURIComponent(e.unique_id)}" data-goto="${esc(e.unique_id)}">${esc(elName(e))}</a><br><span class="muted">${esc(catText(e.category))}</span></td>
      <td class="num nowrap">${h.health_score != null ? `<span class="bar"><i style="width:${h.health_score}%;background:${COLOURS[status]}"></i></span>${fmtNum(h.health_score, 0)}` : "–"}</td>
      <td><span class="chip ${status}">${status}</span></td>
      <td class="num nowrap probability">${p != null ? `<span class="bar"><i style="width:${p * 100}%;background:${p > 0.5 ? COLOURS.critical : p > 0.2 ? COLOURS.warning : COLOURS.ok}"></i></span>${fmtPct(p)}` : "–"}</td>
      <td class="num nowrap ttf">${fmtDuration(h.ttf_hours)}</td><td>${esc((h.drivers || []).join(", "))}</td>
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
  // one source for every alert count: the alerts this page holds (live events), see alertCounts()
  const counts = alertCounts();
  renderAlertMetrics();
  $("#sys-sidecar").innerHTML = kv([["State", st.state], ["Building", st.building_id], ["Sensors", st.sensors],
    ["Readings/s", st.readings_per_s != null ? fmtNum(st.readings_per_s, 1) : null], ["Active alerts", counts.active],
    ["Uptime", st.uptime_s != null ? fmtSeconds(st.uptime_s) : null]]);
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
  const PAGE_COUNTED = ["active", "unacknowledged", "acknowledged", "returned_unacknowledged", "shelved"];
  $("#sys-alarms").innerHTML = m ? kv(ALARM_METRICS.filter(([k]) => PAGE_COUNTED.includes(k) || m[k] != null)
    .map(([k, label]) => [label, PAGE_COUNTED.includes(k) ? counts[k] : m[k]])
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
      S.keys = msg.keys || [];
      S.status = msg.status || {}; S.dashboard = msg.dashboard || {};
      markDirty("plan", "detail", "alerts", "pm", "system"); break;
    case "readings": {
      const rows = readingRows(msg);
      for (const [sid, ts, v] of rows) S.latest.set(sid, [ts, v]);
      appendLiveToTrend(rows); markDirty("plan", "detail"); break; }
    case "alert": {
      const a = msg.alert; const before = S.alerts.get(a.alert_id);
      S.alerts.set(a.alert_id, a);
      if (!before && a.severity === "critical" && a.state === "active") toast("Critical: " + messageText(a));
      markDirty("plan", "detail", "alerts", "system"); break; }
    case "health":
      for (const h of msg.items) S.health.set(h.unique_id, h);
      markDirty("plan", "detail", "pm"); break;
    case "status":
      S.status = msg.status || {}; S.dashboard = msg.dashboard || S.dashboard;
      markDirty("system", "alerts", "pm"); break;
  }
}

/* A readings push in columns (sidecar/dashboard/live.py readings_message): sensor keys ("i", new
   ones named in "add"), milliseconds after "tb" ("t"), values in ten-thousandths ("v"; those that
   need every digit in "x" as [row, value]) -> [[sensor_id, ts, value]]. */
function readingRows(msg) {
  for (const [k, sid] of msg.add || []) S.keys[k] = sid;
  const exact = new Map(msg.x || []);
  const rows = [];
  for (let j = 0; j < msg.i.length; j++) {
    const sid = S.keys[msg.i[j]], t = msg.t[j], v = msg.v[j];
    if (sid != null && t != null) rows.push([sid, msg.tb + t / 1000, v == null ? (exact.get(j) ?? null) : v / 10000]);
  }
  return rows;
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
  if (name === "overview") { if (S.selected) renderDetail(true); renderPlan(); }
  updateUrl();
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
  initPlanZoom(); initReplay();
  $("#trend-sensor").onchange = (e) => { S.trend.sensor = e.target.value; S.trend.live = true; S.trend.fit = true; $("#trend-live").checked = true; loadTrend().catch((x) => toast(x.message)); };
  for (const b of document.querySelectorAll("#trend-ranges button")) b.onclick = () => {
    for (const o of document.querySelectorAll("#trend-ranges button")) o.classList.toggle("active", o === b);
    S.trend.range = Number(b.dataset.range); S.trend.live = true; S.trend.fit = false; $("#trend-live").checked = true; loadTrend().catch((x) => toast(x.message)); };
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
  try { const r = await api("/api/building"); S.units = r.units || {}; loadBuilding(r.building); } catch (e) { toast(e.message); }
  renderLevels(); renderPlan(); connect();
  applyRoute();
  window.addEventListener("hashchange", applyRoute);
  document.body.dataset.ready = "1";
  setInterval(() => { if (S.view === "trends" && S.trend.live && S.trend.data) loadTrend().catch(() => {}); }, 60000);
  setInterval(() => api("/api/building").then((r) => {   // a re-export from Revit replaces the building
    const b = r.building; if (JSON.stringify(b && [b.building_id, b.exported_ts]) !== JSON.stringify(S.building && [S.building.building_id, S.building.exported_ts])) {
      loadBuilding(b); renderLevels(); renderPlan(); } }).catch(() => {}), 15000);
}

document.addEventListener("DOMContentLoaded", init);

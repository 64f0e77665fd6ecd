/// GET /: a page served by the binary (no external scripts, fonts or styles). Pick or drop an
/// image (or open `/?image=URL` to submit one from the same origin or a data: URL), choose a
/// model; it posts the image to the model's route and draws the answer over the image:
/// skeletons (pose), class colours (segmentation), boxes (detection) or the top classes.
/// The body's `data-state` ends "done" or "error", `data-people` / `data-drawn` say what was drawn.
/// A data: URL in `?image=` is answered while the page loads (synchronous requests, the photo an
/// <img> the load event waits for), so a headless browser that snapshots the page at its load
/// event (`chromium --headless --dump-dom`) sees the drawn answer.
enum WebPage {
    static let html = #"""
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hrnet serve</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
#drop { border: 2px dashed #999; padding: 1em; margin: 1em 0; max-width: 40em; }
#drop.over { border-color: #06c; background: #eef5ff; }
canvas { max-width: 100%; border: 1px solid #ccc; display: block; margin: 1em 0; }
pre { background: #f6f6f6; padding: 0.8em; max-height: 24em; overflow: auto; max-width: 60em; }
label { margin-right: 1em; }
</style></head>
<body data-state="idle">
<h1>hrnet serve</h1>
<div>
  <label>Model <select id="model"></select></label>
  <label><input type="checkbox" id="flip" checked> flip test (pose)</label>
</div>
<div id="drop">Drop a JPEG or PNG here, or <input type="file" id="file" accept="image/jpeg,image/png"></div>
<div id="status"></div>
<canvas id="view" width="1" height="1"></canvas>
<pre id="result"></pre>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let models = [];
const JOINT = [0, 255, 0];

function palette(k) {  // PASCAL VOC bit-interleaved colours, as the official code's get_palette
  let r = 0, g = 0, b = 0, lab = k, i = 0;
  while (lab > 0) { r |= ((lab >> 0) & 1) << (7 - i); g |= ((lab >> 1) & 1) << (7 - i); b |= ((lab >> 2) & 1) << (7 - i); i++; lab >>= 3; }
  return [r, g, b];
}

async function loadModels() {
  const r = await fetch("/v1/models");
  models = await r.json();
  for (const m of models) {
    const o = document.createElement("option");
    o.value = m.name; o.textContent = m.name + " (" + m.task + ")";
    $("model").appendChild(o);
  }
}

function setState(state, text) { document.body.dataset.state = state; $("status").textContent = text; }

async function submit(blob) {
  const m = models.find((x) => x.name === $("model").value) || models[0];
  if (!m) { setState("error", "no models"); return; }
  setState("busy", "working...");
  const bitmap = await createImageBitmap(blob);
  const c = $("view"), ctx = c.getContext("2d");
  c.width = bitmap.width; c.height = bitmap.height;
  ctx.drawImage(bitmap, 0, 0);
  const route = { pose: "/v1/pose", segment: "/v1/segment", classify: "/v1/classify", detect: "/v1/detect" }[m.task];
  let url = route + "?model=" + encodeURIComponent(m.name);
  if (m.task === "pose") url += "&flip=" + $("flip").checked;
  try {
    if (m.task === "segment") {
      const r = await fetch(url, { method: "POST", body: blob, headers: { "Accept": "image/png" } });
      if (!r.ok) throw new Error((await r.json()).error);
      overlay(ctx, c, await createImageBitmap(await r.blob()));
      const r2 = await fetch(url, { method: "POST", body: blob });
      show(await r2.json());
    } else {
      const r = await fetch(url, { method: "POST", body: blob });
      const answer = await r.json();
      if (!r.ok) throw new Error(answer.error);
      if (m.task === "pose") drawPose(ctx, answer);
      if (m.task === "detect") drawBoxes(ctx, answer.detections);
      show(answer);
    }
    countDrawn(ctx, c);
    setState("done", "done");
  } catch (e) {
    $("result").textContent = String(e.message || e);
    setState("error", "error: " + (e.message || e));
  }
}

function show(answer) {
  $("result").textContent = JSON.stringify(answer, null, 1);
  if (answer.people) document.body.dataset.people = answer.people.length;
}

function drawPose(ctx, answer) {
  const s = Math.max(2, Math.round(Math.max(ctx.canvas.width, ctx.canvas.height) / 160));
  for (const p of answer.people) {
    ctx.strokeStyle = "rgb(255,0,255)"; ctx.lineWidth = s;
    for (const [a, b] of answer.skeleton) {
      const A = p.keypoints[a], B = p.keypoints[b];
      if (A[2] < 0.2 || B[2] < 0.2) continue;
      ctx.beginPath(); ctx.moveTo(A[0], A[1]); ctx.lineTo(B[0], B[1]); ctx.stroke();
    }
    ctx.fillStyle = "rgb(" + JOINT.join(",") + ")";
    for (const k of p.keypoints) if (k[2] >= 0.2) ctx.fillRect(Math.round(k[0]) - s, Math.round(k[1]) - s, 2 * s, 2 * s);
  }
}

function drawBoxes(ctx, detections) {
  ctx.strokeStyle = "rgb(255,0,255)"; ctx.lineWidth = 2; ctx.font = "14px sans-serif"; ctx.fillStyle = "rgb(255,0,255)";
  for (const d of detections) {
    ctx.strokeRect(d.box[0], d.box[1], d.box[2], d.box[3]);
    ctx.fillText(d.label + " " + d.score.toFixed(2), d.box[0] + 2, d.box[1] + 14);
  }
}

function countDrawn(ctx, c) {  // pixels in the joint colour: what the tests read
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] === JOINT[0] && d[i + 1] === JOINT[1] && d[i + 2] === JOINT[2]) n++;
  document.body.dataset.drawn = n;
}

$("file").addEventListener("change", (e) => { if (e.target.files[0]) submit(e.target.files[0]); });
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer.files[0]) submit(e.dataTransfer.files[0]); });

// ?image=data:...: everything before the load event (see the Swift doc comment).
function submitWhileLoading(dataURL) {
  const xhr = (method, url, body, binary) => {
    const r = new XMLHttpRequest();
    r.open(method, url, false);
    if (binary) { r.overrideMimeType("text/plain; charset=x-user-defined"); r.setRequestHeader("Accept", "image/png"); }
    r.send(body);
    return r;
  };
  models = JSON.parse(xhr("GET", "/v1/models").responseText);
  for (const m of models) {
    const o = document.createElement("option");
    o.value = m.name; o.textContent = m.name + " (" + m.task + ")";
    $("model").appendChild(o);
  }
  const q = new URLSearchParams(location.search);
  if (q.get("model")) $("model").value = q.get("model");
  const m = models.find((x) => x.name === $("model").value) || models[0];
  const comma = dataURL.indexOf(","), raw = atob(dataURL.slice(comma + 1));
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  const blob = new Blob([bytes], { type: dataURL.slice(5, dataURL.indexOf(";")) || "image/jpeg" });
  const route = { pose: "/v1/pose", segment: "/v1/segment", classify: "/v1/classify", detect: "/v1/detect" }[m.task];
  let url = route + "?model=" + encodeURIComponent(m.name);
  if (m.task === "pose") url += "&flip=" + $("flip").checked;
  const r = xhr("POST", url, blob);
  const answer = JSON.parse(r.responseText);
  let labels = null;
  if (r.status === 200 && m.task === "segment") {
    const png = xhr("POST", url, blob, true).responseText, b = new Uint8Array(png.length);
    for (let i = 0; i < png.length; i++) b[i] = png.charCodeAt(i) & 255;
    labels = new Image();
    labels.src = URL.createObjectURL(new Blob([b], { type: "image/png" }));
  }
  const photo = new Image();
  let pending = labels ? 2 : 1;
  const loaded = () => { if (--pending === 0) finish(); };
  if (labels) labels.onload = loaded;
  const finish = () => {
    const c = $("view"), ctx = c.getContext("2d");
    c.width = photo.width; c.height = photo.height;
    ctx.drawImage(photo, 0, 0);
    if (r.status !== 200) { $("result").textContent = answer.error; setState("error", "error: " + answer.error); return; }
    if (m.task === "pose") drawPose(ctx, answer);
    if (m.task === "detect") drawBoxes(ctx, answer.detections);
    if (labels) overlay(ctx, c, labels);
    show(answer);
    countDrawn(ctx, c);
    setState("done", "done");
  };
  photo.onload = loaded;
  photo.src = dataURL;
  document.body.appendChild(photo);
  photo.style.display = "none";
}

function overlay(ctx, c, labels) {  // class colours over the photo, half and half
  const off = document.createElement("canvas");
  off.width = labels.width; off.height = labels.height;
  const octx = off.getContext("2d");
  octx.drawImage(labels, 0, 0);
  const lab = octx.getImageData(0, 0, labels.width, labels.height), img = ctx.getImageData(0, 0, c.width, c.height);
  for (let i = 0; i < lab.data.length; i += 4) {
    const k = lab.data[i], col = k === 255 ? [0, 0, 0] : palette(k);
    for (let j = 0; j < 3; j++) img.data[i + j] = Math.round(0.5 * img.data[i + j] + 0.5 * col[j]);
  }
  ctx.putImageData(img, 0, 0);
}

const wanted = new URLSearchParams(location.search).get("image");
if (wanted && wanted.startsWith("data:")) {
  try { submitWhileLoading(wanted); } catch (e) { setState("error", "error: " + e); }
} else {
  loadModels().then(async () => {
    const q = new URLSearchParams(location.search);
    if (q.get("model")) $("model").value = q.get("model");
    if (wanted) submit(await (await fetch(wanted)).blob());
  }).catch((e) => setState("error", "error: " + e));
}
</script>
</body></html>
"""#
}

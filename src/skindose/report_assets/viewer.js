// skindose 3-D skin dose viewer: the phantom coloured by per-face dose (three.js, WebGL).
// Source of report_assets/viewer.bundle.js (built by scripts/build_report_js.sh with esbuild;
// three.js is MIT licensed, see report_assets/three.LICENSE). Reads the JSON in
// <script id="sd3d-data">, draws into <div id="sd3d">, and sets data-ready="1" when drawn.
import {
  AmbientLight, BufferAttribute, BufferGeometry, Color, DirectionalLight, Group,
  LineBasicMaterial, LineSegments, Mesh, MeshBasicMaterial, MeshLambertMaterial,
  PerspectiveCamera, Quaternion, Raycaster, Scene, SphereGeometry, Vector2, Vector3,
  WebGLRenderer,
} from 'three';

async function bytes(b64) {
  const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const stream = new Blob([raw]).stream().pipeThrough(new DecompressionStream('deflate'));
  return new Response(stream).arrayBuffer();
}

function dequant(u16, lo, step) {
  const out = new Float32Array(u16.length);
  for (let i = 0; i < u16.length; i++) out[i] = lo[i % 3] + u16[i] * step[i % 3];
  return out;
}

function fmtDose(gy) {
  if (!(gy > 0)) return '0 mGy';
  const sig = (x) => {
    const d = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(x))));
    return x.toFixed(d);
  };
  return gy >= 0.9995 ? `${sig(gy)} Gy` : `${sig(gy * 1e3)} mGy`;
}

async function main() {
  const host = document.getElementById('sd3d');
  const dataEl = document.getElementById('sd3d-data');
  if (!host || !dataEl) return;
  const D = JSON.parse(dataEl.textContent);
  const tip = host.querySelector('.sd3d-tip');
  let renderer;
  try {
    renderer = new WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
  } catch (e) {
    host.querySelector('.sd3d-msg').textContent =
      'The 3-D view needs WebGL, which this browser does not offer; the figures show the same map.';
    host.dataset.ready = 'no-webgl';
    return;
  }
  const pos = dequant(new Uint16Array(await bytes(D.positions)), D.lo, D.step);
  const faces = new Uint16Array(await bytes(D.faces));
  const q = new Uint16Array(await bytes(D.dose));
  const lab = new Uint16Array(await bytes(D.labels));
  const nf = q.length;
  const dose = new Float32Array(nf);
  for (let i = 0; i < nf; i++) dose[i] = q[i] * D.dose_step;
  // per-face colour on the report's scale: grey no dose, LUT up to vmax, over colour above
  const lut = D.lut.map((h) => new Color(h));
  const grey = new Color(D.no_dose), over = new Color(D.over);
  const P = new Float32Array(nf * 9), C = new Float32Array(nf * 9);
  for (let f = 0; f < nf; f++) {
    const d = dose[f];
    let c = grey;
    if (d > 0) c = d > D.vmax ? over : lut[Math.min(255, Math.floor((d / D.vmax) * 256))];
    for (let k = 0; k < 3; k++) {
      const v = faces[f * 3 + k];
      P.set(pos.subarray(v * 3, v * 3 + 3), f * 9 + k * 3);
      C[f * 9 + k * 3] = c.r; C[f * 9 + k * 3 + 1] = c.g; C[f * 9 + k * 3 + 2] = c.b;
    }
  }
  const geo = new BufferGeometry();
  geo.setAttribute('position', new BufferAttribute(P, 3));
  geo.setAttribute('color', new BufferAttribute(C, 3));
  geo.computeVertexNormals();
  geo.computeBoundingSphere();
  const mesh = new Mesh(geo, new MeshLambertMaterial({ vertexColors: true }));
  const body = new Group();
  body.add(mesh);
  const centre = geo.boundingSphere.center.clone();
  const R = geo.boundingSphere.radius;
  body.position.copy(centre).multiplyScalar(-1);
  const model = new Group();
  model.add(body);
  // threshold contours
  const contours = new Group();
  for (const c of D.contours) {
    const seg = dequant(new Uint16Array(await bytes(c.segments)), D.lo, D.step);
    const g = new BufferGeometry();
    g.setAttribute('position', new BufferAttribute(seg, 3));
    contours.add(new LineSegments(g, new LineBasicMaterial({ color: c.color })));
  }
  body.add(contours);
  // beams of the top events: focal spot to skin entrance
  const beams = new Group();
  for (const b of D.beams) {
    const g = new BufferGeometry();
    g.setAttribute('position', new BufferAttribute(new Float32Array([...b.source, ...b.entry]), 3));
    beams.add(new LineSegments(g, new LineBasicMaterial({ color: b.color })));
    const s = new Mesh(new SphereGeometry(R * 0.012), new MeshBasicMaterial({ color: b.color }));
    s.position.set(...b.source);
    beams.add(s);
  }
  beams.visible = false;
  body.add(beams);
  if (D.psd) {
    const m = new Mesh(new SphereGeometry(R * 0.012), new MeshBasicMaterial({ color: '#d62728' }));
    m.position.set(...D.psd.point);
    body.add(m);
  }
  const scene = new Scene();
  scene.background = new Color('#ffffff');
  scene.add(model);
  scene.add(new AmbientLight(0xffffff, 1.6));
  const camera = new PerspectiveCamera(30, 1, R * 0.05, R * 20);
  camera.up.set(0, 0, 1);
  const head = new DirectionalLight(0xffffff, 1.4);
  camera.add(head);
  scene.add(camera);
  const canvas = renderer.domElement;
  host.querySelector('.sd3d-stage').appendChild(canvas);
  let dist = R * 3.6;
  const place = () => {
    camera.position.set(0, -dist, 0);
    camera.lookAt(0, 0, 0);
  };
  const size = () => {
    const w = host.querySelector('.sd3d-stage').clientWidth || 600;
    const h = Math.round(Math.min(560, Math.max(320, w * 0.75)));
    renderer.setSize(w, h, true);
    camera.aspect = w / h;
    camera.updateProjectionMatrix();
  };
  const draw = () => renderer.render(scene, camera);
  const setYaw = (yaw) => { model.quaternion.setFromAxisAngle(new Vector3(0, 0, 1), yaw); };
  const views = { front: 0, back: Math.PI, left: -Math.PI / 2, right: Math.PI / 2 };
  const home = D.psd ? Math.atan2(D.psd.normal[0], -D.psd.normal[1]) : 0;
  setYaw(-home);
  size(); place(); draw();
  // rotate on drag, zoom on wheel
  let drag = null;
  canvas.addEventListener('pointerdown', (e) => { drag = { x: e.clientX, y: e.clientY }; canvas.setPointerCapture(e.pointerId); });
  canvas.addEventListener('pointerup', () => { drag = null; });
  const ray = new Raycaster(), ndc = new Vector2();
  const hover = (e) => {
    const r = canvas.getBoundingClientRect();
    ndc.set(((e.clientX - r.left) / r.width) * 2 - 1, -((e.clientY - r.top) / r.height) * 2 + 1);
    ray.setFromCamera(ndc, camera);
    const hit = ray.intersectObject(mesh)[0];
    if (!hit) { tip.hidden = true; host.dataset.hover = ''; return; }
    const f = hit.faceIndex;
    const text = `${fmtDose(dose[f])} · ${D.label_names[lab[f]]}`;
    tip.textContent = text;
    tip.hidden = false;
    tip.style.left = `${e.clientX - r.left + 14}px`;
    tip.style.top = `${e.clientY - r.top + 10}px`;
    host.dataset.hover = text;
  };
  canvas.addEventListener('pointermove', (e) => {
    if (drag) {
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      drag = { x: e.clientX, y: e.clientY };
      const qz = new Quaternion().setFromAxisAngle(new Vector3(0, 0, 1), dx * 0.01);
      const qx = new Quaternion().setFromAxisAngle(new Vector3(1, 0, 0), dy * 0.01);
      model.quaternion.premultiply(qz).premultiply(qx);
      draw();
      host.dataset.rotated = String(Number(host.dataset.rotated || 0) + 1);
    }
    hover(e);
  });
  canvas.addEventListener('pointerleave', () => { tip.hidden = true; });
  canvas.addEventListener('wheel', (e) => {
    e.preventDefault();
    dist = Math.min(R * 10, Math.max(R * 0.6, dist * Math.exp(e.deltaY * 0.001)));
    place(); draw();
  }, { passive: false });
  for (const btn of host.querySelectorAll('button[data-view]')) {
    btn.addEventListener('click', () => {
      const v = btn.dataset.view;
      setYaw(v === 'psd' ? -home : views[v]);
      dist = R * 3.6; place(); draw();
    });
  }
  const toggle = (id, obj) => {
    const box = host.querySelector(id);
    if (!box) return;
    obj.visible = box.checked;
    box.addEventListener('change', () => { obj.visible = box.checked; draw(); });
  };
  toggle('#sd3d-contours', contours);
  toggle('#sd3d-beams', beams);
  window.addEventListener('resize', () => { size(); draw(); });
  window.addEventListener('beforeprint', () => { size(); draw(); });
  draw();
  host.dataset.ready = '1';
}

main().catch((e) => {
  const host = document.getElementById('sd3d');
  if (host) {
    host.dataset.ready = 'error';
    const m = host.querySelector('.sd3d-msg');
    if (m) m.textContent = `The 3-D view could not be drawn: ${e}`;
  }
});

// A line chart on a canvas: a few series, the last N points, the y axis from 0 to the
// highest value shown. Every chart also has its figures in text beside it (for screen
// readers and tests); the canvas is decoration of those figures.

const COLORS = ['#f2b233', '#4c8df6', '#3ecf8e', '#e5534b', '#b07cf7', '#7ad3e8', '#ff9f5a', '#c8c8c8'];

export class LineChart {
  constructor(canvas, { points = 120, unit = '' } = {}) {
    this.canvas = canvas;
    this.points = points;
    this.unit = unit;
    this.series = new Map(); // name → number[]
    this.draws = 0;
  }

  /** Adds one value per series (series appear as they are first named). */
  push(values) {
    for (const [name, v] of Object.entries(values)) {
      if (!this.series.has(name)) this.series.set(name, []);
      const s = this.series.get(name);
      s.push(Number.isFinite(v) ? v : 0);
      if (s.length > this.points) s.shift();
    }
    this.draw();
  }

  color(i) {
    return COLORS[i % COLORS.length];
  }

  draw() {
    const c = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(c.clientWidth * ratio));
    const hgt = Math.max(1, Math.round(c.clientHeight * ratio));
    if (c.width !== w || c.height !== hgt) { c.width = w; c.height = hgt; }
    const g = c.getContext('2d');
    g.clearRect(0, 0, w, hgt);
    let max = 0;
    for (const s of this.series.values()) for (const v of s) max = Math.max(max, v);
    max = max > 0 ? max * 1.15 : 1;
    const pad = 4 * ratio;
    g.strokeStyle = '#2c3540';
    g.lineWidth = 1;
    for (const f of [0.25, 0.5, 0.75]) {
      const y = pad + (hgt - 2 * pad) * f;
      g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke();
    }
    [...this.series.values()].forEach((s, i) => {
      g.strokeStyle = this.color(i);
      g.lineWidth = 2 * ratio;
      g.beginPath();
      s.forEach((v, j) => {
        const x = w - (s.length - 1 - j) * (w / (this.points - 1));
        const y = hgt - pad - (hgt - 2 * pad) * (v / max);
        if (j === 0) g.moveTo(x, y); else g.lineTo(x, y);
      });
      g.stroke();
    });
    g.fillStyle = '#8d9aa8';
    g.font = `${11 * ratio}px system-ui, sans-serif`;
    g.fillText(`${fmt(max)}${this.unit}`, pad, 12 * ratio);
    this.draws += 1;
    c.dataset.draws = String(this.draws);
  }
}

export function fmt(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (Math.abs(v) >= 100) return Math.round(v).toString();
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

// A horizontal bar chart as plain SVG (no charting dependency).
const COLORS = { bare: '#9e9e9e', sess: '#1f77b4', peer: '#ff7f0e' };
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function barChart(bars, { title }) {
  const labelWidth = 430;
  const chartWidth = 480;
  const barHeight = 16;
  const gap = 6;
  const top = 50;
  const max = Math.max(1, ...bars.map((b) => b.value || 0));
  const height = top + bars.length * (barHeight + gap) + 40;
  const width = labelWidth + chartWidth + 90;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  const legend = [['bare', 'no session'], ['sess', '@sess'], ['peer', 'peer library']];
  legend.forEach(([k, name], i) => {
    out.push(`<rect x="${10 + i * 140}" y="30" width="12" height="12" fill="${COLORS[k]}"/>`, `<text x="${26 + i * 140}" y="40">${esc(name)}</text>`);
  });
  bars.forEach((b, i) => {
    const y = top + i * (barHeight + gap);
    const w = Math.max(1, ((b.value || 0) / max) * chartWidth);
    const fill = COLORS[b.group] ?? '#555';
    out.push(
      `<text x="${labelWidth - 8}" y="${y + barHeight - 4}" text-anchor="end">${esc(b.label)}</text>`,
      `<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${fill}"${b.route === '/write' ? ' fill-opacity="0.65"' : ''}/>`,
      `<text x="${labelWidth + w + 4}" y="${y + barHeight - 4}">${Math.round(b.value || 0).toLocaleString('en-US')}</text>`,
    );
  });
  out.push(`<text x="${labelWidth}" y="${height - 12}" fill="#555">requests/s (read routes solid, write routes lighter)</text>`, '</svg>');
  return out.join('\n') + '\n';
}
